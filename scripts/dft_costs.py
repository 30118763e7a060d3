"""What the DFT of a dataset cost, by cell size: the timings its samples and MD segments carry.

    python scripts/dft_costs.py data/v1 data/v2            # a markdown table for the DFT guide

Every labelled sample stores the wall-clock seconds of its SCF and of ``pp.x`` with its k-mesh and
number of MPI processes; every MD segment (60 steps at Γ, 40 Ry) stores its own seconds. The table
gives medians and the spread between the 25th and 75th percentiles, grouped by atoms per cell (and,
for labels, MPI processes, with the range of k-points the k-spacing gave those cells). The timings are wall-clock on whatever the machine was doing
then — two generators side by side, a paused generator's stop — so the medians are what a
generation on that machine costs, not a benchmark.
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict
from pathlib import Path

import numpy as np

SEGMENT_SECONDS = re.compile(r"seconds_md_segment=([0-9.]+)")


def label_timings(roots: list[Path]) -> dict[tuple[int, int], list[tuple[int, float]]]:
    """(k-points, seconds of SCF + pp.x) of every labelled sample, by (atoms, processes)."""
    from geoelf.data.dataset import find_samples
    from geoelf.data.sample import read_meta

    out: dict[tuple[int, int], list[tuple[int, float]]] = defaultdict(list)
    for root in roots:
        for path in find_samples(root):
            meta = read_meta(path)
            if "seconds_scf" not in meta:
                continue  # a sample imported from elsewhere carries no timing
            key = (int(meta["natoms"]), int(meta.get("nprocs", 1)))
            seconds = float(meta["seconds_scf"]) + float(meta.get("seconds_pp", 0.0))
            out[key].append((int(np.prod(meta["kmesh"])), seconds))
    return out


def segment_timings(roots: list[Path]) -> dict[int, list[float]]:
    """Seconds of every MD segment, by atoms per cell (read from each segment's first comment line)."""
    out: dict[int, list[float]] = defaultdict(list)
    for root in roots:
        for seg in sorted((root / "md").glob("*/segments/seg_*.xyz")):
            with open(seg) as fh:
                natoms = int(fh.readline())
                found = SEGMENT_SECONDS.search(fh.readline())
            if found:
                out[natoms].append(float(found.group(1)))
    return out


def spread(values: list[float]) -> str:
    """'median (25th–75th percentile)' of ``values``, in seconds."""
    q1, med, q3 = np.percentile(values, [25, 50, 75])
    return f"{med:.0f} ({q1:.0f}–{q3:.0f})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("datasets", nargs="+", type=Path)
    args = parser.parse_args()
    labels = label_timings(args.datasets)
    print("| atoms | MPI processes | k-points | label: SCF + `pp.x` (s) | samples |")
    print("|---|---|---|---|---|")
    for (natoms, nprocs), rows in sorted(labels.items()):
        kpoints = sorted({k for k, _ in rows})
        kp = f"{kpoints[0]}" if len(kpoints) == 1 else f"{kpoints[0]}–{kpoints[-1]}"
        print(f"| {natoms} | {nprocs} | {kp} | {spread([t for _, t in rows])} | {len(rows)} |")
    print()
    print("| atoms | MD segment of 60 steps (s) | segments |")
    print("|---|---|---|")
    for natoms, values in sorted(segment_timings(args.datasets).items()):
        print(f"| {natoms} | {spread(values)} | {len(values)} |")


if __name__ == "__main__":
    main()
