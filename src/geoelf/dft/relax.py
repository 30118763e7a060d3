"""Variable-cell relaxation at a target pressure: ASE's FrechetCellFilter + BFGS over pw.x SCF.

Debian's QE 6.7 pw.x crashes in every ``vc-relax``; single-point SCF with stress works, so the
cell and positions are optimised by ASE with protocol-v1 energies, forces and stresses.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import ClassVar

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes

from geoelf.dft.elf import DftFailure, scf
from geoelf.dft.profile import Profile
from geoelf.dft.protocol import ElfProtocol
from geoelf.errors import GeoelfError
from geoelf.units import EV_A3_GPA

log = logging.getLogger(__name__)


class QeScf(Calculator):
    """ASE calculator: one protocol SCF per geometry (energy eV, forces eV/Å, stress eV/Å³)."""

    implemented_properties: ClassVar[list[str]] = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, profile: Profile, protocol: ElfProtocol, **kwargs) -> None:
        super().__init__(**kwargs)
        self.profile = profile
        self.protocol = protocol
        self.n_scf = 0

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        work = Path(tempfile.mkdtemp(prefix="geoelf-relax-"))
        try:
            res = scf(self.atoms, work, self.profile, self.protocol)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        self.n_scf += 1
        if res.forces_ev_a is None or res.stress_gpa is None:
            raise DftFailure("pw.x printed no forces or stress")
        # QE's stress is positive under compression; ASE's is positive under tension.
        stress = -res.stress_gpa / EV_A3_GPA
        self.results = {
            "energy": res.energy_ev,
            "free_energy": res.energy_ev,
            "forces": res.forces_ev_a,
            "stress": stress[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]],
        }


def relax(
    atoms: Atoms,
    pressure_gpa: float,
    fmax: float = 0.02,
    max_steps: int = 100,
    profile: Profile | None = None,
    protocol: ElfProtocol | None = None,
    trajectory: str | None = None,
    checkpoint: str | Path | None = None,
    calculator: Calculator | None = None,
) -> tuple[Atoms, dict]:
    """Relax positions and cell of ``atoms`` at ``pressure_gpa``; returns the structure and facts.

    With ``checkpoint`` (a folder) every evaluated geometry and the optimiser's state (its Hessian and
    reference cell) are kept there, and a relaxation killed part way continues from its last geometry
    with its Hessian, within the same ``max_steps`` in all. ``calculator`` replaces the protocol SCF
    (tests of the optimiser alone)."""
    from ase.filters import FrechetCellFilter
    from ase.optimize import BFGS

    if set(atoms.get_chemical_symbols()) - {"H"}:
        raise GeoelfError("the DFT protocol covers hydrogen only")
    saved = Checkpoint(Path(checkpoint)) if checkpoint else None
    done = saved.geometries() if saved else []
    atoms = done[-1].copy() if done else atoms.copy()
    calc = calculator or QeScf(profile or Profile.load(), protocol or ElfProtocol())
    atoms.calc = calc
    flt = FrechetCellFilter(atoms, scalar_pressure=pressure_gpa / EV_A3_GPA)
    opt = BFGS(flt, logfile=None, trajectory=trajectory, restart=saved.optimiser_state() if saved else None)
    if saved:  # each geometry once: a resumed run's first is the last one kept
        opt.attach(lambda: saved.add(atoms) if opt.nsteps or not done else None)
    converged = bool(opt.run(fmax=fmax, steps=max(0, max_steps - max(0, len(done) - 1))))
    stress = atoms.get_stress(voigt=False)
    facts = {
        "converged": converged,
        "steps": opt.nsteps + max(0, len(done) - 1),
        "n_scf": getattr(calc, "n_scf", 0) + len(done),
        "pressure_gpa": float(-np.trace(stress) / 3 * EV_A3_GPA),
        "target_pressure_gpa": pressure_gpa,
        "energy_ev": float(atoms.get_potential_energy()),
        "fmax_ev_a": float(np.abs(atoms.get_forces()).max()),
    }
    out = Atoms(atoms.get_chemical_symbols(), positions=atoms.positions, cell=atoms.cell, pbc=True)
    out.info.update(facts)
    return out, facts


class Checkpoint:
    """A relaxation's folder: ``geometries.extxyz`` (every evaluated geometry, rewritten atomically)
    and ``optimiser.json`` (ASE BFGS's restart file: Hessian, last step, reference cell)."""

    def __init__(self, folder: Path) -> None:
        from ase.io import read

        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "geometries.extxyz"
        self.frames: list[Atoms] = read(self.path, index=":") if self.path.exists() else []

    def geometries(self) -> list[Atoms]:
        return list(self.frames)

    def optimiser_state(self) -> str:
        """The restart file's path; a file cut short by a kill is dropped (BFGS then starts afresh
        from the last geometry)."""
        from ase.io.jsonio import read_json

        state = self.folder / "optimiser.json"
        try:
            with open(state) as f:
                read_json(f)
        except FileNotFoundError:
            pass
        except ValueError:
            state.unlink()
        return str(state)

    def add(self, atoms: Atoms) -> None:
        from ase.io import write

        from geoelf.io.common import atomic_path

        self.frames.append(Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=True))
        with atomic_path(self.path) as tmp:
            write(tmp, self.frames, format="extxyz")
