"""geoelf screen INPUTS... -o results.parquet: many frames on Dask (resumable, keyed by provenance)."""

from __future__ import annotations

import argparse

from geoelf.cli.common import elf_value, positive_float, positive_int
from geoelf.model.package import DEFAULT_MODEL


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="trajectory files (extxyz, ASE .traj, LAMMPS dump, XDATCAR ...), folders, ASE .db",
    )
    p.add_argument("-o", "--output", required=True, help="results table (.parquet, or .csv)")
    p.add_argument("--model", help=f"model package, shipped name, or 'promolecular' (default: {DEFAULT_MODEL})")
    grid = p.add_mutually_exclusive_group()
    grid.add_argument("--grid", type=positive_int, nargs=3, metavar="N")
    grid.add_argument("--spacing", type=positive_float, metavar="Å")
    p.add_argument(
        "--isovalue", type=elf_value, default=0.7, help="ELF isovalue of the H cluster statistics (default 0.7)"
    )
    p.add_argument("--elf-out", metavar="DIR", help="also write each frame's ELF as DIR/<name>_<frame>.cube.gz")
    p.add_argument("--scheduler", metavar="ADDRESS", help="join an existing Dask cluster (default: a local one)")
    p.add_argument("--workers", type=positive_int, help="local workers (default: one per core)")
    p.add_argument("--chunk", type=positive_int, default=4, help="frames per task")
    p.add_argument(
        "--fresh", action="store_true", help="discard the rows stored from earlier runs (OUT.parts) and start over"
    )
    p.add_argument(
        "--skip-errors", action="store_true", help="exit 0 even when some frames failed (their rows carry 'error')"
    )
    p.add_argument(
        "--max-memory",
        type=positive_float,
        metavar="GB",
        help="refuse frames whose grid would need more (default: available memory)",
    )
    p.add_argument(
        "--uncertainty",
        action="store_true",
        help="also σ of each φ and the mean σ(x) of the ELF (the model must carry a calibration)",
    )
    p.add_argument("--plot", metavar="PNG", help="summary plot of φ against pressure (or frame)")


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from geoelf.screen.runner import ScreenOptions, screen, summary_plot

    if args.elf_out:
        Path(args.elf_out).mkdir(parents=True, exist_ok=True)
    opts = ScreenOptions(
        args.model,
        tuple(args.grid) if args.grid else None,
        args.spacing,
        args.elf_out,
        isovalue=args.isovalue,
        max_memory_gb=args.max_memory,
        uncertainty=args.uncertainty,
    )
    summary = screen(args.inputs, args.output, opts, args.chunk, args.scheduler, args.workers, fresh=args.fresh)
    rate = f"{summary['frames_per_s']:.2f} frames/s" if summary["frames_per_s"] else "nothing left to compute"
    print(
        f"{summary['frames']} frames -> {summary['output']} ({summary['computed']} computed now, {rate}, "
        f"peak worker memory {summary['worker_peak_mb'] or 0:.0f} MB; model {summary['provenance']['model']}, "
        f"provenance {summary['provenance']['sha256'][:12]})"
    )
    if args.plot:
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        table = pacsv.read_csv(args.output) if args.output.endswith(".csv") else pq.read_table(args.output)
        print(summary_plot(table.to_pylist(), args.plot))
    if summary["failed"]:
        word = "warning" if args.skip_errors else "error"
        print(
            f"geoelf: {word}: {summary['failed']} of {summary['frames']} frames failed, their rows carry an 'error' "
            f"(first: {summary['first_failure']})",
            file=sys.stderr,
        )
        return 0 if args.skip_errors else 2
    return 0
