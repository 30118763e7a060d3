"""Facts from pw.x output text: energy, Fermi level, stress, convergence, timings, MD frames.

Units on the way out: eV, GPa, seconds, Å, K.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

RY_EV = 13.605693122994
KBAR_GPA = 0.1

_ENERGY = re.compile(r"^!\s+total energy\s+=\s+(-?\d+\.\d+)\s+Ry", re.M)
_FERMI = re.compile(r"the Fermi energy is\s+(-?\d+\.\d+)\s+ev", re.M)
_PRESSURE = re.compile(r"total\s+stress\s+\(Ry/bohr\*\*3\)\s+\(kbar\)\s+P=\s*(-?\d+\.\d+)")
_CONVERGED = re.compile(r"convergence has been achieved in\s+(\d+)\s+iterations")
_NOT_CONVERGED = re.compile(r"convergence NOT achieved")
_WALL = re.compile(r"PWSCF\s*:\s*(.+?)CPU\s+(.+?)WALL")
_VERSION = re.compile(r"Program PWSCF v\.(\S+)")
_FFT = re.compile(r"FFT dimensions:\s*\(\s*(\d+),\s*(\d+),\s*(\d+)\)")
_TEMPERATURE = re.compile(r"^\s+temperature\s+=\s+(-?\d+\.\d+)\s+K", re.M)
_NKS = re.compile(r"number of k points=\s+(\d+)")


def qe_seconds(text: str) -> float:
    """'1h 2m', '3m45.20s' or '12.34s' → seconds."""
    total = 0.0
    for value, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([hms])", text):
        total += float(value) * {"h": 3600.0, "m": 60.0, "s": 1.0}[unit]
    return total


@dataclass
class ScfResult:
    """What one pw.x SCF printed (eV, GPa, s).

    ``stress_gpa`` (3, 3) follows QE's sign: its trace / 3 is the pressure, positive under compression.
    """

    energy_ev: float | None = None
    fermi_ev: float | None = None
    pressure_gpa: float | None = None
    stress_gpa: np.ndarray | None = None
    forces_ev_a: np.ndarray | None = None
    converged: bool = False
    scf_iterations: int | None = None
    wall_s: float | None = None
    qe_version: str | None = None
    fft_grid: tuple[int, int, int] | None = None
    n_kpoints: int | None = None
    notes: list[str] = field(default_factory=list)


def parse_pw_scf(text: str, natoms: int | None = None) -> ScfResult:
    """Parse a pw.x SCF output. Missing items stay None; convergence is False unless printed."""
    res = ScfResult()
    if m := _ENERGY.findall(text):
        res.energy_ev = float(m[-1]) * RY_EV
    if m := _FERMI.findall(text):
        res.fermi_ev = float(m[-1])
    if m := _PRESSURE.findall(text):
        res.pressure_gpa = float(m[-1]) * KBAR_GPA
    res.stress_gpa = _stress(text)
    if natoms:
        res.forces_ev_a = _forces(text, natoms)
    if m := _CONVERGED.findall(text):
        res.converged = not _NOT_CONVERGED.search(text)
        res.scf_iterations = int(m[-1])
    if m := _WALL.findall(text):
        res.wall_s = qe_seconds(m[-1][1])
    if version := _VERSION.search(text):
        res.qe_version = version.group(1)
    if fft := _FFT.search(text):
        res.fft_grid = tuple(int(x) for x in fft.groups())  # type: ignore[assignment]
    if nks := _NKS.search(text):
        res.n_kpoints = int(nks.group(1))
    return res


def _stress(text: str) -> np.ndarray | None:
    """Last stress tensor, GPa (QE prints Ry/bohr³ then kbar columns; we take kbar)."""
    idx = text.rfind("total   stress")
    if idx < 0:
        return None
    lines = text[idx:].splitlines()[1:4]
    try:
        return np.array([[float(x) for x in line.split()[3:6]] for line in lines]) * KBAR_GPA
    except (ValueError, IndexError):
        return None


def _forces(text: str, natoms: int) -> np.ndarray | None:
    """Last set of forces, eV/Å (QE prints Ry/bohr)."""
    idx = text.rfind("Forces acting on atoms")
    if idx < 0:
        return None
    rows = re.findall(r"atom\s+\d+\s+type\s+\d+\s+force\s+=\s+(\S+)\s+(\S+)\s+(\S+)", text[idx:])[:natoms]
    if len(rows) < natoms:
        return None
    return np.array(rows, dtype=float) * (RY_EV / 0.529177210903)


def parse_md_frames(text: str, natoms: int) -> tuple[list[np.ndarray], list[float]]:
    """All ATOMIC_POSITIONS blocks (Å, (natoms, 3) each) and the ionic temperatures (K) of an MD run."""
    frames: list[np.ndarray] = []
    for match in re.finditer(r"ATOMIC_POSITIONS \(angstrom\)\n", text):
        lines = text[match.end() :].splitlines()[:natoms]
        try:
            frames.append(np.array([[float(x) for x in line.split()[1:4]] for line in lines]))
        except (ValueError, IndexError):
            break
        if frames[-1].shape != (natoms, 3):
            frames.pop()
            break
    temps = [float(t) for t in _TEMPERATURE.findall(text)]
    return frames, temps
