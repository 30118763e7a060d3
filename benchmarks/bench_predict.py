"""Prediction speed against DFT (SCF + pp.x, protocol v1), side by side in one run.

    python benchmarks/bench_predict.py [--model dense-h-v1 [--model dense-h-v1-ks ...]] [--sizes 64 128 256]
                                       [--dft-sizes 64 128] [--runs 3] [--threads N] [--busy] [--grid-scale 2]

For each size, a 10-frame fluid trajectory at rs = 1.45 bohr is predicted on its DFT grid by one
`geoelf predict` process, as a user would run it; the figure is the median of the seconds per frame
that process reports for frames 2–10 (frame 1 is the warm-up). This repeats ``--runs`` times, each
a fresh process, and the median of the runs is printed with their range. One structure is also
predicted as a whole `geoelf predict` process (start-up and writing included; median of the runs),
and one frame is computed once with pw.x + pp.x. Prints seconds and the DFT / network ratio, a row per
model and size (``--model`` more than once: the models side by side, against the same DFT run).
``--threads`` is passed to `geoelf predict` (default: its own default); ``--busy`` keeps one other
process spinning on a core throughout (a loaded machine); ``--grid-scale K`` predicts on K times the
DFT grid's points along each axis (a finer grid, where a model's per-frame costs weigh less). The
µs/point column is the seconds per frame over the grid's points: the cost per grid point.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from ase.io import write
from busy import one_busy_process


def trajectory(natoms: int, frames: int = 10):
    from geoelf.dft.md import random_molecular_start

    base = random_molecular_start(natoms, 1.45, seed=natoms)
    rng = np.random.default_rng(natoms)
    out = []
    for _ in range(frames):
        a = base.copy()
        a.positions += rng.normal(scale=0.08, size=a.positions.shape)
        out.append(a)
    return out


def predict_command(args: list[str], model: str | None, threads: int | None) -> list[str]:
    return ([sys.executable, "-m", "geoelf.cli.main", "predict", *args] + (["--model", model] if model else [])
            + (["--threads", str(threads)] if threads else []))


def seconds_per_frame(path: Path, model: str | None, threads: int | None, grid: tuple[int, ...]) -> float:
    """Median seconds per frame, frames 2–10, that one `geoelf predict --json` process reports on ``grid``."""
    command = predict_command([str(path), "--json", "--grid", *map(str, grid)], model, threads)
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return statistics.median(doc["seconds"] for doc in json.loads(out)[1:])


def whole_process(path: Path, model: str | None, threads: int | None, grid: tuple[int, ...]) -> float:
    """Wall seconds of one `geoelf predict` process on one structure and ``grid``, writing its .npz."""
    t0 = time.perf_counter()
    output = ["-o", str(path.with_suffix(".npz"))]
    command = predict_command([str(path), "--grid", *map(str, grid), *output], model, threads)
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", action="append", default=None, help="a model (repeat for several; default: the default)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--dft-sizes", type=int, nargs="*", default=None, help="sizes to run DFT for (default: all)")
    parser.add_argument("--runs", type=int, default=3, help="fresh predict processes per size (default 3)")
    parser.add_argument("--threads", type=int, default=None, help="--threads of geoelf predict (default: its default)")
    parser.add_argument("--busy", action="store_true", help="one busy background process during the runs")
    parser.add_argument("--grid-scale", type=int, default=1, help="points along each axis, times the DFT grid's")
    args = parser.parse_args()
    with one_busy_process(args.busy):
        _report(args)


def _report(args) -> None:
    from geoelf.dft.elf import compute_elf
    from geoelf.model.grids import dft_grid

    print(f"{'model':>14s} {'atoms':>6s} {'grid':>10s} {'net s/frame':>12s} {'runs (range)':>14s} {'whole process s':>16s} "
          f"{'DFT s':>8s} {'DFT/net':>8s} {'µs/point':>9s}", flush=True)
    for n in args.sizes:
        frames = trajectory(n)
        shape = tuple(args.grid_scale * m for m in dft_grid(frames[0].cell.array))
        dft = float("nan")
        if args.dft_sizes is None or n in args.dft_sizes:
            t0 = time.perf_counter()
            compute_elf(frames[0])
            dft = time.perf_counter() - t0
        for model in args.model or [None]:
            with tempfile.TemporaryDirectory() as tmp:
                traj, one = Path(tmp) / "traj.extxyz", Path(tmp) / "one.extxyz"
                write(traj, frames)
                write(one, frames[0])
                runs = [seconds_per_frame(traj, model, args.threads, shape) for _ in range(args.runs)]
                whole = statistics.median(whole_process(one, model, args.threads, shape) for _ in range(args.runs))
            per_frame = statistics.median(runs)
            spread = f"{min(runs):.3f}–{max(runs):.3f}"
            print(f"{model or 'default':>14s} {n:6d} {'×'.join(map(str, shape)):>10s} {per_frame:12.3f} {spread:>14s} "
                  f"{whole:16.2f} {dft:8.1f} {dft / per_frame:8.0f} {per_frame / np.prod(shape) * 1e6:9.3f}", flush=True)


if __name__ == "__main__":
    main()
