"""Prediction speed against DFT (SCF + pp.x, protocol v1), side by side in one run.

    python benchmarks/bench_predict.py --model dense-h-v1 [--sizes 64 128 256] [--dft-sizes 64 128]

For each size: a 10-frame fluid trajectory at rs = 1.45 bohr is predicted on its DFT grid in one
process (median per frame, first frame excluded as warm-up); one structure is also predicted as
a whole `geoelf predict` process (start-up included); and one frame is computed with pw.x + pp.x.
Prints seconds and the DFT / network ratio.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from ase.io import write


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--dft-sizes", type=int, nargs="*", default=None, help="sizes to run DFT for (default: all)")
    args = parser.parse_args()
    from geoelf.dft.elf import compute_elf
    from geoelf.model.predict import Predictor, dft_grid

    pred = Predictor(args.model)
    print(f"{'atoms':>6s} {'grid':>12s} {'net s/frame':>12s} {'whole process s':>16s} {'DFT s':>8s} {'DFT/net':>8s}")
    for n in args.sizes:
        frames = trajectory(n)
        shape = dft_grid(frames[0].cell.array)
        times = []
        for a in frames:
            t0 = time.perf_counter()
            pred.grid(a, shape)
            times.append(time.perf_counter() - t0)
        per_frame = statistics.median(times[1:])
        with tempfile.TemporaryDirectory() as tmp:
            write(Path(tmp) / "one.extxyz", frames[0])
            cmd = [sys.executable, "-m", "geoelf.cli.main", "predict", str(Path(tmp) / "one.extxyz"), "-o", str(Path(tmp) / "o.npz")]
            if args.model:
                cmd += ["--model", args.model]
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            whole = time.perf_counter() - t0
        dft = float("nan")
        if args.dft_sizes is None or n in args.dft_sizes:
            t0 = time.perf_counter()
            compute_elf(frames[0])
            dft = time.perf_counter() - t0
        print(f"{n:6d} {'×'.join(map(str, shape)):>12s} {per_frame:12.3f} {whole:16.2f} {dft:8.1f} {dft / per_frame:8.0f}", flush=True)


if __name__ == "__main__":
    main()
