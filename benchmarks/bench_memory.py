"""Peak memory of predicting a large cell on a fine grid (target: 2 000 atoms, 200³, ≤ 1 GB).

    python benchmarks/bench_memory.py [--model dense-h-v1] [--atoms 2000] [--grid 200] [--task-points N]

The target is the grid kernel's, so the model defaults to dense-h-v1 (the geometry alone);
``--model dense-h-v1-ks`` adds the one-shot calculation, whose time and memory grow as the square
of the cell. Memory and time depend on a model's architecture and the sizes, not on its weights.
Run it twice after the grid kernel's source changes: the first run compiles.
"""

from __future__ import annotations

import argparse
import resource
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="dense-h-v1")
    parser.add_argument("--atoms", type=int, default=2000)
    parser.add_argument("--grid", type=int, default=200)
    parser.add_argument("--task-points", type=int, default=None, help="grid points per task (default: the Predictor's)")
    args = parser.parse_args()
    from geoelf.dft.md import random_molecular_start
    from geoelf.model.predict import Predictor

    predictor = Predictor(args.model)
    atoms = random_molecular_start(args.atoms, 1.45, seed=1)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    pred = predictor.grid(atoms, (args.grid,) * 3, task_points=args.task_points)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.atoms} atoms, {args.grid}³ grid: {seconds:.1f} s, peak RSS {peak:.0f} MB "
          f"(before predicting {before:.0f} MB; the ELF grid itself {pred.field.data.nbytes / 2**20:.0f} MB)")


if __name__ == "__main__":
    main()
