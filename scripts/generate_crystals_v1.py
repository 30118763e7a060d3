"""Crystal split of dataset v1: build, relax at pressure (ASE FrechetCellFilter + pw.x), label.

    nohup nice -n 15 python scripts/generate_crystals_v1.py > crystals.log 2>&1 &

Ordered phases are built from their space groups with guessed lattice parameters and molecule
positions and then relaxed at their pressure with protocol v1; the random structure search (RSS)
draws 8-atom cells of random shape at the target density, relaxes them at 200–400 GPa and keeps
every converged result. Relaxed structures go to data/v1/crystal_structures/<name>.extxyz, labels
to data/v1/crystal/<name>.h5; both steps skip what is done, so a rerun continues.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.io import read, write
from ase.spacegroup import crystal

from geoelf.dft.elf import label_batch
from geoelf.dft.profile import Profile
from geoelf.dft.relax import relax
from geoelf.units import EV_A3_GPA

ROOT = Path(__file__).resolve().parents[1] / "data" / "v1"
BOND = 0.74  # Å, starting H2 bond length


def pa3(a: float) -> Atoms:
    """Pa-3 (phase I/III-like): H2 centred on fcc sites, along the four body diagonals."""
    x = BOND / (2 * math.sqrt(3) * a)
    return crystal("H", [(x, x, x)], spacegroup=205, cellpar=[a, a, a, 90, 90, 90])


def hcp_molecular(a: float) -> Atoms:
    """P6_3/mmc: H2 on hcp sites, aligned with c (c/a = 1.633)."""
    c = 1.633 * a
    return crystal("H", [(1 / 3, 2 / 3, 0.25 - 0.5 * BOND / c)], spacegroup=194, cellpar=[a, a, c, 90, 90, 120])


def cmca4(a: float, b: float, c: float, y: float) -> Atoms:
    """Cmca (Cmce, no. 64), H on 8f (0, y, z): layered molecular phase, 4 atoms per primitive cell."""
    z = math.sqrt(max((BOND / 2) ** 2 - (y * b) ** 2, 1e-6)) / c
    conv = crystal("H", [(0, y, z)], spacegroup=64, cellpar=[a, b, c, 90, 90, 90])
    return primitive(conv)


def i41amd(a: float, c: float) -> Atoms:
    """I4_1/amd (Cs-IV type) atomic hydrogen, 4a site (origin choice 2)."""
    return primitive(crystal("H", [(0, 0.75, 0.125)], spacegroup=141, setting=2, cellpar=[a, a, c, 90, 90, 90]))


def primitive(conv: Atoms) -> Atoms:
    """The primitive cell of a centred conventional cell: the three shortest independent lattice
    translations that map the structure onto itself (no spglib needed)."""
    frac = conv.get_scaled_positions()
    # lattice translations that map the structure onto itself = centring vectors
    shifts = [d for d in (frac - frac[0]) % 1.0 if _maps(frac, d)]
    lattice = np.vstack([np.eye(3), np.array(shifts)])
    # pick three shortest independent vectors
    vecs = sorted(({tuple(np.round(v, 6)) for v in lattice if np.linalg.norm(v) > 1e-6}), key=lambda v: np.linalg.norm(np.array(v) @ conv.cell))
    basis = []
    for v in vecs:
        trial = basis + [np.array(v)]
        if np.linalg.matrix_rank(np.array(trial) @ conv.cell, tol=1e-6) == len(trial):
            basis = trial
        if len(basis) == 3:
            break
    cell = np.array(basis) @ conv.cell
    keep = []
    for p in conv.positions:
        f = np.linalg.solve(cell.T, p) % 1.0
        if not any(np.allclose((f - g + 0.5) % 1.0 - 0.5, 0, atol=1e-5) for g in keep):
            keep.append(f)
    return Atoms("H%d" % len(keep), scaled_positions=keep, cell=cell, pbc=True)


def _maps(frac: np.ndarray, d: np.ndarray) -> bool:
    moved = (frac + d) % 1.0
    return all(np.any(np.all(np.abs(((moved[i] - frac) + 0.5) % 1.0 - 0.5) < 1e-5, axis=1)) for i in range(len(frac)))


def random_cell(natoms: int, volume_per_atom: float, seed: int) -> Atoms:
    """RSS start: random cell shape (angles 60–120°) at the volume, H2 molecules placed randomly."""
    rng = np.random.default_rng(seed)
    for _ in range(1000):
        lengths = rng.uniform(0.7, 1.3, 3)
        angles = rng.uniform(60, 120, 3)
        from ase.geometry import cellpar_to_cell

        cell = cellpar_to_cell([*lengths, *angles])
        if not np.isfinite(cell).all() or abs(np.linalg.det(cell)) < 0.3 * np.prod(lengths):
            continue
        cell *= (natoms * volume_per_atom / abs(np.linalg.det(cell))) ** (1 / 3)
        atoms = Atoms(cell=cell, pbc=True)
        for _ in range(natoms // 2):
            for _ in range(200):
                centre = rng.random(3) @ cell
                axis = rng.normal(size=3)
                axis /= np.linalg.norm(axis)
                trial = atoms + Atoms("H2", positions=[centre + 0.5 * BOND * axis, centre - 0.5 * BOND * axis])
                d = trial.get_all_distances(mic=True)
                np.fill_diagonal(d, 9.0)
                if d.min() >= BOND - 1e-6 and np.sort(d, axis=1)[:, 1].min() > 1.0:
                    atoms = trial
                    break
        if len(atoms) == natoms:
            return atoms
    raise RuntimeError("no random start found")


def plan() -> list[tuple[str, Atoms, float]]:
    """(name, start structure, pressure GPa) of every crystal of the split."""
    return [
        ("Pa-3_100GPa", pa3(2.75), 100.0),
        ("Pa-3_200GPa", pa3(2.55), 200.0),
        ("P63mmc-molecular_150GPa", hcp_molecular(1.95), 150.0),
        ("Cmca-4_250GPa", cmca4(1.75, 3.2, 2.25, 0.10), 250.0),
        ("Cmca-4_350GPa", cmca4(1.7, 3.1, 2.2, 0.10), 350.0),
        ("I41amd_450GPa", i41amd(1.22, 3.1), 450.0),
        ("I41amd_500GPa", i41amd(1.2, 3.05), 500.0),
        *[(f"rss{k}_{p}GPa", random_cell(8, v, 700 + k), float(p))
          for k, (p, v) in enumerate([(200, 1.85), (300, 1.6), (400, 1.42)])],
    ]


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    profile = Profile.load()
    structures = ROOT / "crystal_structures"
    structures.mkdir(parents=True, exist_ok=True)
    items = []
    for name, start, pressure in plan():
        path = structures / f"{name}.extxyz"
        if not path.exists():
            logging.info("relaxing %s (%d atoms) at %.0f GPa", name, len(start), pressure)
            out, facts = relax(start, pressure, fmax=0.02, max_steps=120, profile=profile)
            out.info.update({"phase": name.split("_")[0], "structure_name": name})
            tmp = path.with_suffix(".tmp")
            write(tmp, out, format="extxyz")
            os.replace(tmp, path)
            logging.info("%s: %s", name, facts)
        atoms = read(path)
        items.append((name, atoms, crystal_meta(name, atoms)))
    label_batch(items, ROOT / "crystal", profile, progress=False)


def crystal_meta(name: str, atoms: Atoms) -> dict:
    """A relaxed crystal's sample attributes: its structure type as the phase (the name's part before
    '_'), the name as its trajectory, the relaxation's facts and the enthalpy per atom (eV)."""
    info = atoms.info
    pv_ev = info["target_pressure_gpa"] / EV_A3_GPA * atoms.get_volume()
    return {"phase": name.split("_")[0], "trajectory": name, "target_pressure_gpa": info["target_pressure_gpa"],
            "relax_converged": bool(info["converged"]), "relax_steps": int(info["steps"]),
            "enthalpy_ev_per_atom": (info["energy_ev"] + pv_ev) / len(atoms)}


if __name__ == "__main__":
    main()
