"""Screening throughput: frames/s against Dask workers and against frame size; memory per worker.

    python benchmarks/bench_screen.py [--model dense-h-v1] [--frames 120] [--runs 3] [--sizes [64 128 256 512]] [--busy]

The frames are real fluid snapshots of dataset v1 (64 atoms; supercells of them for 128, 256
and 512 atoms), cycled to the requested count, each predicted on its DFT grid and analysed
(φ_1D/2D/3D, φ*, critical points, H clusters) — exactly what `geoelf screen` does per frame.
Every run is a fresh `screen` with a fresh Dask LocalCluster. Two figures per run:
  end to end   frames / (wall time of screen(), cluster start-up and model loading included)
  per frame    median seconds per frame inside a worker (the cost that extrapolates to a
               cluster: frames/s ≈ workers / per-frame seconds)
Each configuration runs --runs times; medians are printed. ``--busy`` keeps one other process
spinning on a core for the whole benchmark (a loaded machine: geoelf beside an MD code).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from ase.io import write
from busy import one_busy_process

DATA = Path(__file__).resolve().parents[1] / "data" / "v1" / "fluid"
SUPERCELL = {64: (1, 1, 1), 128: (2, 1, 1), 256: (2, 2, 1), 512: (2, 2, 2)}


def fluid_frames(natoms: int, count: int) -> list:
    """``count`` frames of ``natoms`` atoms made from the 64-atom DFT snapshots of dataset v1."""
    from geoelf.data.sample import read_sample

    paths = sorted(DATA.rglob("h64_*.h5"))
    if not paths:
        raise SystemExit(f"no 64-atom samples under {DATA}")
    base = [read_sample(p)[0].atoms for p in paths[:count]]
    return [base[k % len(base)].repeat(SUPERCELL[natoms]) for k in range(count)]


def run_once(frames: list, workers: int, model: str | None) -> tuple[float, float, float]:
    """(end-to-end frames/s, median worker seconds per frame, peak worker MB) of one screening."""
    import pyarrow.parquet as pq

    from geoelf.screen.runner import ScreenOptions, screen

    with tempfile.TemporaryDirectory() as tmp:
        write(Path(tmp) / "t.extxyz", frames)
        t0 = time.perf_counter()
        summary = screen([str(Path(tmp) / "t.extxyz")], str(Path(tmp) / "r.parquet"), ScreenOptions(model), chunk=2,
                         workers=workers, progress=False)
        wall = time.perf_counter() - t0
        seconds = pq.read_table(Path(tmp) / "r.parquet", columns=["seconds"]).column(0).to_pylist()
    return len(frames) / wall, statistics.median(seconds), summary["worker_peak_mb"]


def medians(frames: list, workers: int, model: str | None, runs: int) -> tuple[float, float, float]:
    results = [run_once(frames, workers, model) for _ in range(runs)]
    return tuple(statistics.median(r[i] for r in results) for i in range(3))  # type: ignore[return-value]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None)
    parser.add_argument("--frames", type=int, default=120, help="64-atom frames per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="*", default=[64, 128, 256, 512], choices=sorted(SUPERCELL),
                        help="frame sizes for the second table (none: only the first)")
    parser.add_argument("--busy", action="store_true", help="one busy background process during the runs")
    args = parser.parse_args()
    with one_busy_process(args.busy):
        _report(args)


def _report(args) -> None:
    print(f"64-atom frames against workers ({args.frames} frames, median of {args.runs} runs)")
    frames = fluid_frames(64, args.frames)
    base = None
    for w in (1, 2):
        fps, per_frame, peak = medians(frames, w, args.model, args.runs)
        base = base or fps
        print(f"  workers {w}: {fps:.2f} frames/s end to end (×{fps / base:.2f}), {per_frame:.3f} s per frame in a worker, "
              f"peak worker memory {peak:.0f} MB", flush=True)
    if args.sizes:
        print("2 workers against frame size")
    for n in args.sizes:
        count = max(8, args.frames * 64 // n // 2)
        fps, per_frame, peak = medians(fluid_frames(n, count), 2, args.model, args.runs)
        print(f"  {n:4d} atoms ({count} frames): {fps:.3f} frames/s end to end, {per_frame:.2f} s per frame in a worker, "
              f"peak worker memory {peak:.0f} MB", flush=True)


if __name__ == "__main__":
    main()
