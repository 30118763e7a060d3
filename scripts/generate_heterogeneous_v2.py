"""Generate dataset v2's heterogeneous cells: defects in molecular crystals and two-phase cells — resumable.

    nohup nice -n 19 python scripts/generate_heterogeneous_v2.py > heterogeneous-v2.log 2>&1 &
    python scripts/generate_heterogeneous_v2.py --dry-run     # builds every start structure, runs no DFT

Defects (phase "defect"): each molecular crystal relaxed by ``generate_solids_v2.py``
(``data/v2/solid_structures/``), as its supercell of at least 48 atoms with one molecule removed (a
molecular vacancy) or one molecule added at the emptiest place of the cell (an interstitial, random
orientation, 0.74 Å), run through MD at 300 K from that start.

Two-phase cells (phase "two-phase"), 128–192 atoms:
- molecular solid | fluid: a crystal's supercell beside the same supercell melted (MD at MELT_K from
  the crystal: same cell, so the same density), stacked along the supercell's longest axis, then run
  at a temperature near the melting line at that pressure;
- molecular | atomic fluid: two 64-atom snapshots of one density from dataset v1's training
  trajectories, one at 1200 K (molecular) and one at 2800 K (partly atomic), stacked, then run at
  2000 K for a short time (the two halves keep their structure for the ~100 fs sampled).
Where the two halves meet, atoms closer than 0.65 Å across the interface are moved apart by widening
the cell along the stacking axis (at most 0.4 Å). MD segments go to ``data/v2/md/<name>/`` and
labels to ``data/v2/heterogeneous/<name>/``; every step skips what is on disk, and the script waits
between steps while ``--pause-file`` exists. Several copies can run side by side: each cell is
claimed by the copy that starts it and skipped by the others (``geoelf.dft.claims``); cells are
taken largest first, so the copies finish close together.
"""

from __future__ import annotations

import functools
import logging
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.geometry import get_distances
from ase.io import read

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate_solids_v2 import generation_args, repeats

from geoelf.data.dataset import load_splits
from geoelf.data.sample import read_sample
from geoelf.dft.claims import claimed
from geoelf.dft.elf import label_batch
from geoelf.dft.md import Trajectory, run_md, snapshot_items, wait_while_paused
from geoelf.dft.profile import Profile
from geoelf.neighbours import shortest_distance
from geoelf.units import wigner_seitz_rs

ROOT = Path(__file__).resolve().parents[1] / "data" / "v2"
V1_FLUID = ROOT.parent / "v1" / "fluid"
SNAPSHOTS = 3
MELT_K = 2500  # melts every molecular crystal here within 300 steps
BOND = 0.74  # Å, the H2 bond of an added molecule
MIN_CONTACT = 0.65  # Å: closest approach allowed across a stacking interface
# (crystal, defect temperature K, two-phase temperature K: just below the PBE melting line). Every host
# is a structure type that the split trains on: a cell on a type of data/v2/held_out.json would be
# held out whole (geoelf.data.dataset.make_splits), leaving its kind without a training host.
CRYSTALS = [
    ("Pa-3_20GPa", 300, 500),
    ("Pa-3_50GPa", 300, 700),
    ("P63mmc-molecular_20GPa", 300, None),
    ("P63mmc-molecular_80GPa", 300, 800),
    ("rss24-1_150GPa", 300, 900),
]
FLUID_PAIRS = [1.33, 1.41]  # rs (bohr) of the molecular | atomic fluid cells


def molecules(atoms: Atoms) -> list[tuple[int, int]]:
    """Pairs of atoms that are each other's nearest neighbour (periodic): the molecules."""
    _, d = get_distances(atoms.positions, cell=atoms.cell, pbc=True)
    np.fill_diagonal(d, np.inf)
    nearest = d.argmin(1)
    return [(i, int(j)) for i, j in enumerate(nearest) if i < j and nearest[j] == i]


def vacancy(supercell: Atoms) -> Atoms:
    """``supercell`` less the molecule nearest its centre."""
    centre = supercell.cell.array.sum(0) / 2
    pairs = molecules(supercell)
    mid = np.array([(supercell.positions[i] + supercell.positions[j]) / 2 for i, j in pairs])
    _, d = get_distances(mid, [centre], cell=supercell.cell, pbc=True)
    i, j = pairs[int(d[:, 0].argmin())]
    return supercell[[k for k in range(len(supercell)) if k not in (i, j)]]


def interstitial(supercell: Atoms, seed: int) -> Atoms:
    """``supercell`` plus one molecule, randomly oriented, centred at the point of a 16³ mesh farthest
    from every atom."""
    mesh = np.stack(np.meshgrid(*[np.arange(16) / 16] * 3, indexing="ij"), -1).reshape(-1, 3)
    _, d = get_distances(mesh @ supercell.cell.array, supercell.positions, cell=supercell.cell, pbc=True)
    centre = mesh[d.min(1).argmax()] @ supercell.cell.array
    axis = np.random.default_rng(seed).normal(size=3)
    axis *= BOND / 2 / np.linalg.norm(axis)
    out = supercell + Atoms("H2", positions=[centre - axis, centre + axis])
    out.wrap()
    return out


def stacked(first: Atoms, second: Atoms, axis: int) -> Atoms:
    """``second`` beside ``first`` along lattice vector ``axis`` (equal cells), the cell widened
    just enough that no two atoms across the interfaces come closer than MIN_CONTACT."""
    for gap in np.arange(0.0, 0.41, 0.05):
        cell = first.cell.array.copy()
        unit = cell[axis] / np.linalg.norm(cell[axis])
        cell[axis] = 2 * cell[axis] + 2 * gap * unit
        out = Atoms(
            "H" * (len(first) + len(second)),
            positions=np.vstack(
                [first.positions + gap / 2 * unit, second.positions + first.cell.array[axis] + 1.5 * gap * unit]
            ),
            cell=cell,
            pbc=True,
        )
        _, d = get_distances(out.positions[: len(first)], out.positions[len(first) :], cell=out.cell, pbc=True)
        if d.min() >= MIN_CONTACT:
            return out
    raise SystemExit(f"no gap up to 0.4 Å separates the halves (closest {d.min():.2f} Å)")


def longest_axis(cell: np.ndarray) -> int:
    """The lattice vector with the widest spacing of lattice planes (stacking along it keeps the cell compact)."""
    return int(np.argmax(1.0 / np.linalg.norm(np.linalg.inv(cell).T, axis=1)))


def melted(name: str, supercell: Atoms, profile: Profile | None, dry: bool) -> Atoms:
    """The crystal supercell after MD at MELT_K (same cell and atoms), computed once."""
    if dry:
        return supercell.copy()
    folder = ROOT / "md" / f"{name}_melt{MELT_K}"
    rs = wigner_seitz_rs(supercell.get_volume(), len(supercell))
    run_md(
        folder,
        len(supercell),
        rs,
        MELT_K,
        0,
        equilibration=300,
        seed=zlib.crc32(name.encode()) % 10_000,
        profile=profile,
        progress=False,
        start=supercell,
        phase="melt",
    )
    return Trajectory(folder).last_atoms()


def v1_training_frame(rs: float, temperature: int) -> Atoms:
    """The first snapshot of the first v1 training trajectory at (rs, T)."""
    train = load_splits(ROOT.parent / "v1")["train"]
    name = next(t for t in sorted(train) if t.startswith(f"h64_rs{rs:.2f}_T{temperature}_"))
    return read_sample(sorted((V1_FLUID / name).glob("*.h5"))[0])[0].atoms


def plan(profile: Profile | None, dry: bool) -> list[tuple[str, Callable[[], Atoms], float, str]]:
    """(name, builder of its start structure, temperature K, phase) of every heterogeneous cell that
    can be built now, largest cell first: generators side by side then finish within about one small
    cell of each other instead of one running the largest alone at the end. A solid | fluid cell's
    builder melts its crystal first (MD), so a cell is only built by the generator that runs it."""
    items: list[tuple[int, str, Callable[[], Atoms], float, str]] = []  # (atoms, name, builder, T, phase)
    for crystal, defect_t, two_phase_t in CRYSTALS:
        path = ROOT / "solid_structures" / f"{crystal}.extxyz"
        if not path.exists():
            logging.info("%s is not relaxed yet (generate_solids_v2.py): skipped", crystal)
            continue
        cell = read(path)
        supercell = cell.repeat(repeats(cell.cell.array, len(cell)))
        seed = zlib.crc32(crystal.encode())
        n = len(supercell)
        items.append((n - 2, f"{crystal}_vacancy", functools.partial(vacancy, supercell), defect_t, "defect"))
        build_interstitial = functools.partial(interstitial, supercell, seed)
        items.append((n + 2, f"{crystal}_interstitial", build_interstitial, defect_t, "defect"))
        if two_phase_t:
            half = cell.repeat(repeats(cell.cell.array, len(cell), 60))
            build = functools.partial(solid_beside_fluid, crystal, half, profile, dry)
            items.append((2 * len(half), f"{crystal}_solid-fluid", build, two_phase_t, "two-phase"))
    for rs in FLUID_PAIRS:
        build = functools.partial(molecular_beside_atomic, rs)
        items.append((128, f"h128_rs{rs:.2f}_molecular-atomic", build, 2000, "two-phase"))
    items.sort(key=lambda item: -item[0])  # a stable sort: equal sizes keep the order above
    return [item[1:] for item in items]


def solid_beside_fluid(crystal: str, half: Atoms, profile: Profile | None, dry: bool) -> Atoms:
    """The crystal's supercell ``half`` beside itself melted, stacked along its longest axis."""
    return stacked(half, melted(crystal, half, profile, dry), longest_axis(half.cell.array))


def molecular_beside_atomic(rs: float) -> Atoms:
    """v1's molecular (1200 K) and partly atomic (2800 K) fluid at ``rs`` bohr, stacked along a."""
    return stacked(v1_training_frame(rs, 1200), v1_training_frame(rs, 2800), 0)


def main() -> None:
    args = generation_args("build the start structures, print them and stop")
    profile = None if args.dry_run else Profile.load()
    for name, build, temperature, phase in plan(profile, args.dry_run):
        if args.only and args.only not in name:
            continue
        if args.dry_run:
            describe(name, build(), temperature, phase)
            continue
        wait_while_paused(args.pause_file)
        with claimed(ROOT / "md" / name) as mine:
            if mine:
                run_cell(name, build(), temperature, phase, profile, args.pause_file)
            else:
                logging.info("%s: another generator is running it, skipped", name)


def describe(name: str, start: Atoms, temperature: float, phase: str) -> None:
    """One line of the plan: the cell's size, density, shortest H–H distance and temperature."""
    rs = wigner_seitz_rs(start.get_volume(), len(start))
    closest = shortest_distance(start, 2.0)
    print(f"{name:36s} {len(start):4d} atoms, rs {rs:.3f} bohr, shortest H–H {closest:.2f} Å, {temperature} K", phase)


def run_cell(name: str, start: Atoms, temperature: float, phase: str, profile: Profile, pause_file: Path) -> None:
    """Run the MD of one heterogeneous cell from ``start`` and label its snapshots as they come."""
    describe(name, start, temperature, phase)
    rs = wigner_seitz_rs(start.get_volume(), len(start))
    for count in range(1, SNAPSHOTS + 1):
        wait_while_paused(pause_file)
        run_md(
            ROOT / "md" / name,
            len(start),
            rs,
            temperature,
            count,
            equilibration=120 if phase == "two-phase" else 180,
            seed=zlib.crc32(name.encode()) % 10_000,
            profile=profile,
            progress=False,
            start=start,
            phase=phase,
        )
        label_batch(snapshot_items(ROOT / "md" / name), ROOT / "heterogeneous" / name, profile, progress=False)


if __name__ == "__main__":
    main()
