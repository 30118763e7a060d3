"""Screening throughput: frames/s against Dask workers and against frame size; memory per worker.

    python benchmarks/bench_screen.py --model dense-h-v1 [--frames 40] [--sizes 64 128 256 512]

Every run is a fresh `screen` over a trajectory of fluid frames at rs = 1.45 bohr on their DFT
grids (predict + network analysis), timed end to end including the Dask cluster start; the
per-frame cost is what extrapolates to a cluster (frames/s ≈ workers / cost).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from ase.io import write

from bench_predict import trajectory


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256, 512])
    args = parser.parse_args()
    from geoelf.screen.runner import ScreenOptions, screen

    def run(natoms: int, workers: int, frames: int) -> dict:
        with tempfile.TemporaryDirectory() as tmp:
            write(Path(tmp) / "t.extxyz", trajectory(natoms, frames))
            return screen([str(Path(tmp) / "t.extxyz")], str(Path(tmp) / "r.parquet"), ScreenOptions(args.model), chunk=2,
                          workers=workers, progress=False)

    print("64-atom frames against workers")
    base = None
    for w in (1, 2):
        s = run(64, w, args.frames)
        base = base or s["frames_per_s"]
        print(f"  workers {w}: {s['frames_per_s']:.2f} frames/s  (×{s['frames_per_s'] / base:.2f})  peak worker memory {s['worker_peak_mb']:.0f} MB", flush=True)
    print("2 workers against frame size")
    for n in args.sizes:
        s = run(n, 2, max(4, args.frames * 64 // n))
        print(f"  {n:4d} atoms: {s['frames_per_s']:.3f} frames/s, {2 / s['frames_per_s']:.2f} s per frame per worker, "
              f"peak worker memory {s['worker_peak_mb']:.0f} MB", flush=True)


if __name__ == "__main__":
    main()
