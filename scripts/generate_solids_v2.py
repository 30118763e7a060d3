"""Generate dataset v2's solids: relaxed crystals at pressure and their thermal snapshots — resumable.

    nohup nice -n 19 python scripts/generate_solids_v2.py > solids-v2.log 2>&1 &
    python scripts/generate_solids_v2.py --dry-run      # the plan: structures, atoms, densities

Each structure is built from its space group with guessed lattice parameters (molecular Pa-3 and
P6₃/mmc, layered Cmca-4, atomic I4₁/amd and fcc), or drawn by a small random structure search
(random molecular cells of 12 and 24 atoms, the stand-ins for the layered phase-III-like C2/c-24,
Cmca-12 and Pc-48 types), then relaxed at its pressure with DFT protocol v1 (ASE FrechetCellFilter
over pw.x SCF stresses) into ``data/v2/solid_structures/<name>.extxyz``. The relaxed cell is repeated
to at least ``MIN_ATOMS`` atoms and run through Born–Oppenheimer MD at each of its temperatures
(`geoelf dft md --start`), and the snapshots after equilibration are labelled into
``data/v2/solid/<name>_T<T>/``; the relaxed cell itself is labelled too, as a static crystal, into
``data/v2/crystal/<name>.h5``. None of the pressures repeats a structure of dataset v1's crystal
split, which stays held out. Every step skips what is on disk, and the script waits between steps
while ``--pause-file`` exists. Several copies can run side by side: each structure is claimed by the
copy that starts it and skipped by the others (``geoelf.dft.claims``).
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import shutil
import sys
import zlib
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.io import read, write
from ase.spacegroup import crystal

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate_crystals_v1 import cmca4, crystal_meta, hcp_molecular, i41amd, pa3, random_cell

from geoelf.dft.claims import claimed
from geoelf.dft.elf import label_batch
from geoelf.dft.md import run_md, snapshot_items, wait_while_paused
from geoelf.dft.profile import Profile
from geoelf.dft.relax import relax
from geoelf.units import wigner_seitz_rs

ROOT = Path(__file__).resolve().parents[1] / "data" / "v2"
MIN_ATOMS = 48  # thermal snapshots need room for phonons: at least this many atoms a supercell
SNAPSHOTS = 3
EQUILIBRATION = 180  # MD steps (three segments of 60) before the first snapshot


def fcc(a: float) -> Atoms:
    """fcc atomic hydrogen (Fm-3m), one atom per primitive cell."""
    return crystal("H", [(0, 0, 0)], spacegroup=225, cellpar=[a, a, a, 90, 90, 90], primitive_cell=True)


def plan() -> list[tuple[str, Atoms, float, tuple[int, ...]]]:
    """(name, start structure, pressure GPa, temperatures K) of every solid."""
    ordered = [
        ("Pa-3_20GPa", pa3(3.40), 20.0, (100, 300)),
        ("Pa-3_50GPa", pa3(3.00), 50.0, (300,)),
        ("P63mmc-molecular_20GPa", hcp_molecular(2.45), 20.0, (100, 300)),
        ("P63mmc-molecular_80GPa", hcp_molecular(2.10), 80.0, (300,)),
        ("Cmca-4_300GPa", cmca4(1.72, 3.15, 2.22, 0.10), 300.0, (300, 600)),
        ("I41amd_700GPa", i41amd(1.10, 2.80), 700.0, (300, 600)),
        ("I41amd_1000GPa", i41amd(1.03, 2.62), 1000.0, (300,)),
        ("fcc_1000GPa", fcc(1.36), 1000.0, (300, 600)),
    ]
    searched = [(n, k, p, v) for n, p, v in ((12, 150, 1.90), (24, 150, 1.90), (12, 250, 1.55), (24, 250, 1.55))
                for k in range(2)]
    # one more molecular cell of each size at 100 and at 200 GPa, each its own structure type (so its
    # thermal run trains): the molecular solid between P6₃/mmc's 80 GPa and the searched cells' 250 GPa
    between = [(n, k, p, v) for n in (12, 24) for k, p, v in ((2, 100, 2.10), (3, 200, 1.70))]
    return ordered + [
        (f"rss{n}-{k}_{p}GPa", random_cell(n, v, 900 + 10 * n + k), float(p), (300,))
        for n, k, p, v in searched + between
    ]


def repeats(cell: np.ndarray, natoms: int, minimum: int = MIN_ATOMS) -> tuple[int, int, int]:
    """Repetitions along a, b, c that reach ``minimum`` atoms while keeping the supercell as close to
    isotropic as possible (the shortest distance between periodic images grows most)."""
    reps = [1, 1, 1]
    heights = 1.0 / np.linalg.norm(np.linalg.inv(cell).T, axis=1)  # distances between lattice planes
    while natoms * math.prod(reps) < minimum:
        axis = int(np.argmin(heights * np.array(reps)))
        reps[axis] += 1
    return reps[0], reps[1], reps[2]


def relaxed(name: str, start: Atoms, pressure: float, profile: Profile) -> Atoms:
    """The structure relaxed at ``pressure`` (computed once, then read from disk)."""
    path = ROOT / "solid_structures" / f"{name}.extxyz"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        logging.info("relaxing %s (%d atoms) at %.0f GPa", name, len(start), pressure)
        checkpoint = ROOT / "md" / f"{name}_relax"  # a killed relaxation continues from here
        out, facts = relax(start, pressure, fmax=0.02, max_steps=120, profile=profile, checkpoint=checkpoint)
        out.info.update({"phase": "solid", "structure_name": name})
        tmp = path.with_suffix(".tmp")
        write(tmp, out, format="extxyz")
        os.replace(tmp, path)
        shutil.rmtree(checkpoint)
        logging.info("%s: %s", name, facts)
    return read(path)


def generation_args(dry_run: str) -> argparse.Namespace:
    """The options of v2's generation scripts (``--only``, ``--pause-file``, ``--dry-run``), logging set up."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", help="substring of the names to run")
    parser.add_argument("--pause-file", type=Path, default=Path("/tmp/geoelf-generate.pause"))
    parser.add_argument("--dry-run", action="store_true", help=dry_run)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    return args


def main() -> None:
    args = generation_args("print the plan and stop")
    items = [item for item in plan() if not args.only or args.only in item[0]]
    if args.dry_run:
        for name, start, pressure, temperatures in items:
            rs = wigner_seitz_rs(start.get_volume(), len(start))
            reps = repeats(start.cell.array, len(start))
            print(
                f"{name:28s} {len(start):3d} atoms ×{reps} → {len(start) * math.prod(reps):3d}, "
                f"start rs {rs:.2f} bohr, {pressure:.0f} GPa, T {temperatures}"
            )
        return
    profile = Profile.load()
    for name, start, pressure, temperatures in items:
        wait_while_paused(args.pause_file)
        with claimed(ROOT / "solid_structures" / name) as mine:
            if mine:
                run_solid(name, start, pressure, temperatures, profile, args.pause_file)
            else:
                logging.info("%s: another generator is running it, skipped", name)


def run_solid(
    name: str, start: Atoms, pressure: float, temperatures: tuple[int, ...], profile: Profile, pause_file: Path
) -> None:
    """Relax one solid (once) and run and label its thermal snapshots at each temperature."""
    cell = relaxed(name, start, pressure, profile)
    # the relaxed cell itself, without vibrations: the static crystal that v1's crystal split tests
    label_batch([(name, cell, crystal_meta(name, cell))], ROOT / "crystal", profile, progress=False)
    supercell = cell.repeat(repeats(cell.cell.array, len(cell)))
    rs = wigner_seitz_rs(supercell.get_volume(), len(supercell))
    for temperature in temperatures:
        run = f"{name}_T{temperature}"
        for count in range(1, SNAPSHOTS + 1):
            wait_while_paused(pause_file)
            run_md(
                ROOT / "md" / run,
                len(supercell),
                rs,
                temperature,
                count,
                equilibration=EQUILIBRATION,
                seed=zlib.crc32(run.encode()) % 10_000,
                profile=profile,
                progress=False,
                start=supercell,
                phase="solid",
            )
            label_batch(snapshot_items(ROOT / "md" / run), ROOT / "solid" / run, profile, progress=False)


if __name__ == "__main__":
    main()
