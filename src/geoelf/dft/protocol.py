"""What is computed: DFT protocol v1 (the labels) and the MD sampling settings.

Protocol v1 (DESIGN.md): PBE, norm-conserving H_HSCV_PBE-1.0.UPF, ecutwfc 60 Ry,
Marzari–Vanderbilt smearing 0.02 Ry, Monkhorst–Pack n_i = max(1, ceil(2π|b_i| / 0.45 Å⁻¹))
(b_i reciprocal vectors without 2π), conv_thr 1e-8, ELF from pp.x plot_num = 8 on the full FFT grid.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from geoelf.dft.profile import PSEUDO_H

RY_TIME_FS = 4.8378e-2  # one Rydberg atomic unit of time in fs


@dataclass(frozen=True)
class ElfProtocol:
    """Settings of an SCF + ELF label. ``id`` is stored with every sample."""

    id: str = "dft-protocol-v1"
    ecutwfc: float = 60.0  # Ry
    smearing: str = "mv"
    degauss: float = 0.02  # Ry
    kspacing: float = 0.45  # Å⁻¹ (with the 2π)
    conv_thr: float = 1e-8  # Ry
    mixing_beta: float = 0.4
    electron_maxstep: int = 200
    fixed_kmesh: tuple[int, int, int] | None = None  # only for protocol-noise studies
    # FFT grid (nr1, nr2, nr3) forced on pw.x, so that labels at another cutoff land on the same
    # points as the protocol's and can be subtracted point by point (protocol-noise studies only)
    fft_grid: tuple[int, int, int] | None = None
    # the H pseudopotential file in the profile's pseudo folder; another one (a bare Coulomb
    # potential at a high cutoff) only to check the protocol's, never for labels
    pseudo: str = PSEUDO_H

    def kmesh(self, cell: np.ndarray) -> tuple[int, int, int]:
        """Monkhorst–Pack mesh for a cell (3, 3) Å: n_i = max(1, ceil(2π |b_i| / kspacing))."""
        if self.fixed_kmesh:
            return tuple(self.fixed_kmesh)  # type: ignore[return-value]
        recip = np.linalg.inv(np.asarray(cell, dtype=float)).T  # rows b_i, no 2π
        return tuple(max(1, math.ceil(2 * math.pi * float(np.linalg.norm(b)) / self.kspacing)) for b in recip)  # type: ignore[return-value]

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class MdSettings:
    """Born–Oppenheimer MD for sampling the fluid (not for labels): Γ point, 40 Ry."""

    ecutwfc: float = 40.0  # Ry
    degauss: float = 0.04  # Ry, Marzari–Vanderbilt
    dt_fs: float = 0.48
    mixing_beta: float = 0.3
    conv_thr: float = 1e-6  # Ry (per cell; 64 atoms)
    nraise: int = 10
    # pot_extrapolation and wfc_extrapolation between MD steps: a better start for each SCF, the
    # same converged forces; 142 → 108 SCF iterations (−24 %) over 20 steps of 64 atoms at
    # rs 1.49 bohr, 2800 K. Used from 2026-11-26 on (trajectories before it ran with "none").
    extrapolation: str = "second_order"

    @property
    def dt_ry(self) -> float:
        """Time step in Rydberg atomic units, as pw.x wants it."""
        return self.dt_fs / RY_TIME_FS
