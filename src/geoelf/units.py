"""Physical constants and the density measures of dense hydrogen, each defined once.

Units inside geoelf are Å, eV, GPa and K; bohr appears only at the QE and cube boundaries and in
the Wigner–Seitz radius rs, which the field quotes in bohr.
"""

from __future__ import annotations

import math

BOHR = 0.529177210903  # Å per bohr (CODATA 2018, as in ASE)
AMU_G = 1.66053906660e-24  # g per atomic mass unit
A3_CM3 = 1e-24  # cm³ per Å³
EV_A3_GPA = 160.21766208  # GPa per eV/Å³


def wigner_seitz_rs(volume_a3: float, natoms: int) -> float:
    """rs (bohr): radius of the sphere that holds one atom's share of ``volume_a3`` (Å³)."""
    return (3.0 * volume_a3 / (4.0 * math.pi * natoms)) ** (1.0 / 3.0) / BOHR


def volume_per_atom(rs_bohr: float) -> float:
    """Volume per atom (Å³) of a density given by rs (bohr): the inverse of wigner_seitz_rs."""
    return 4.0 / 3.0 * math.pi * (rs_bohr * BOHR) ** 3


def density_g_cm3(atoms) -> float:
    """Mass density (g/cm³) of an ASE Atoms in its periodic cell."""
    return float(sum(atoms.get_masses()) * AMU_G / (atoms.get_volume() * A3_CM3))
