"""The one-shot Kohn–Sham calculation (``geoelf.electronic``) against cell size: what dense-h-v1-ks
adds to dense-h-v1's cost per frame.

    python benchmarks/bench_oneshot.py [--sizes 64 128 256 512] [--runs 3] [--threads 2]

The cells are a real 64-atom fluid snapshot of dataset v1 at rs 1.49 bohr and its supercells
(128: 2×1×1, 256: 2×2×1, 512: 2×2×2, 1024: 4×2×2). Per size, the median seconds over ``--runs`` calls of the
one-shot itself and of the network's channels (the one-shot and the spline coefficients of its 15
channels), after one call that loads the compiled kernels; the meshes; the process's peak RSS after
the size (it only grows: read each row as "at most").
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data" / "v1" / "fluid"
SUPERCELL = {64: (1, 1, 1), 128: (2, 1, 1), 256: (2, 2, 1), 512: (2, 2, 2), 1024: (4, 2, 2)}


def frame(natoms: int):
    """A fluid snapshot at rs 1.49 bohr (or its supercell) of ``natoms`` atoms."""
    from geoelf.data.sample import read_sample

    paths = sorted(DATA.glob("h64_rs1.49_*/*.h5")) or sorted(DATA.rglob("h64_*.h5"))
    if not paths:
        raise SystemExit(f"no 64-atom samples under {DATA}")
    return read_sample(paths[0])[0].atoms.repeat(SUPERCELL[natoms])


def median_seconds(function, atoms, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        function(atoms)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256, 512], choices=sorted(SUPERCELL))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import numba

    from geoelf.electronic.features import electronic_channels
    from geoelf.electronic.oneshot import one_shot

    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    print(f"{'atoms':>6} {'field mesh':>12} {'one-shot s':>11} {'channels s':>11} {'peak RSS MB':>12}")
    for natoms in args.sizes:
        atoms = frame(natoms)
        fields = one_shot(atoms)  # loads (or compiles) the kernels
        shot = median_seconds(one_shot, atoms, args.runs)
        channels = median_seconds(electronic_channels, atoms, args.runs)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        mesh = "×".join(str(n) for n in fields.shape)
        print(f"{natoms:>6} {mesh:>12} {shot:>11.3f} {channels:>11.3f} {peak:>12.0f}")


if __name__ == "__main__":
    main()
