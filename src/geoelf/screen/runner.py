"""`geoelf screen`: predict + network analysis for every frame of many inputs, on Dask.

Frames are grouped in chunks of a few frames; each chunk is one Dask task. Workers load the
model once (a per-process cache) and return one row per frame. The driver writes every
finished chunk atomically as ``OUT.parts/<key>.parquet``; a rerun skips chunks whose part
exists, and the final table is assembled from the parts and checked to hold every input frame
exactly once. A worker that dies mid-task is replaced by its nanny and Dask reruns the task
(``retries``), so killing a worker never loses or duplicates a frame.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from geoelf.errors import GeoelfError
from geoelf.io.common import atomic_path, file_stem
from geoelf.io.structures import read_frames

log = logging.getLogger(__name__)
COLUMNS = ["source", "frame", "natoms", "phi_1d", "phi_2d", "phi_3d", "phi_star", "phi_3d_grid", "n_max", "n_bond", "n_ring",
           "n_cage", "morse_sum", "h2_fraction", "h3_fraction", "extended_fraction", "largest_cluster", "network_isovalue", "rs", "density_g_cm3",
           "pressure_gpa", "out_of_domain", "seconds", "seconds_predict", "worker_peak_mb", "elf_file"]
_MODELS: dict[str, Any] = {}


@dataclass
class ScreenOptions:
    model: str | None = None
    grid: tuple[int, int, int] | None = None
    spacing: float | None = None
    elf_out: str | None = None
    threads: int = 1
    # Clusters are counted at a fixed isovalue: at φ_3D itself every H is in the percolating
    # network by definition, which would make the H2 fraction meaningless for screening.
    isovalue: float = 0.7


def input_files(inputs: list[str]) -> list[str]:
    """Files to read: given files, every file inside given folders (sorted)."""
    files = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            files += sorted(str(f) for f in p.rglob("*") if f.is_file() and not f.name.startswith("."))
        elif p.exists():
            files.append(str(p))
        else:
            raise GeoelfError("no such file or folder", item)
    if not files:
        raise GeoelfError("no input structures found")
    return files


def chunk_key(source: str, first: int, last: int) -> str:
    return hashlib.sha1(f"{os.path.abspath(source)}|{first}|{last}".encode()).hexdigest()[:16]


def _predictor(model: str | None, threads: int):
    key = f"{model}|{threads}"
    if key not in _MODELS:
        from geoelf.model.predict import Predictor

        _MODELS[key] = Predictor(model, threads)
    return _MODELS[key]


def analyse_frame(source: str, frame: int, atoms, opts: ScreenOptions) -> dict[str, Any]:
    """One output row: prediction, network descriptors, counts, density, pressure, timings."""
    import resource

    from geoelf.model.predict import dft_grid, grid_for_spacing
    from geoelf.topology.network import analyse, h_network, morse_counts

    t0 = time.perf_counter()
    pred = _predictor(opts.model, opts.threads)
    shape = opts.grid or (grid_for_spacing(atoms.cell.array, opts.spacing) if opts.spacing else dft_grid(atoms.cell.array))
    result = pred.grid(atoms, tuple(shape), source=source)
    # one seeding pass: the refinements rarely change a count and cost several times the frame;
    # the Morse sum column tells where a frame's critical points are incomplete
    an = analyse(result.field, max_refine=1)
    counts = morse_counts(an)
    net = h_network(result.field, isovalue=opts.isovalue, analysis=an)
    n = len(atoms)
    volume = atoms.get_volume()
    row = {
        "source": source, "frame": frame, "natoms": n,
        "phi_1d": an.graph_phi.phi_1d, "phi_2d": an.graph_phi.phi_2d, "phi_3d": an.graph_phi.phi_3d, "phi_star": an.graph_phi.phi_star,
        "phi_3d_grid": an.grid.phi_3d, "n_max": counts["max"], "n_bond": counts["bond"], "n_ring": counts["ring"],
        "n_cage": counts["cage"], "morse_sum": counts["max"] - counts["bond"] + counts["ring"] - counts["cage"],
        "h2_fraction": net["fractions"]["H2"], "h3_fraction": net["fractions"]["H3"], "extended_fraction": net["fractions"]["extended"],
        "largest_cluster": net["largest_cluster"], "network_isovalue": opts.isovalue,
        "rs": (3 * volume / (4 * math.pi * n)) ** (1 / 3) / 0.529177210903,
        "density_g_cm3": float(np.sum(atoms.get_masses()) / volume * 1.66053906660),
        "pressure_gpa": _pressure(atoms), "out_of_domain": result.out_of_domain, "seconds_predict": result.seconds,
        "elf_file": None,
    }
    if opts.elf_out:
        from geoelf.io import write

        name = f"{file_stem(source)}_{frame:06d}.cube.gz"
        write(result.field, str(Path(opts.elf_out) / name))
        row["elf_file"] = str(Path(opts.elf_out) / name)
    row["seconds"] = time.perf_counter() - t0
    row["worker_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return row


def _pressure(atoms) -> float | None:
    for key in ("pressure_gpa", "pressure"):
        if key in atoms.info:
            return float(atoms.info[key])
    return None


def process_chunk(source: str, first: int, frames: list, opts: ScreenOptions) -> list[dict[str, Any]]:
    """A Dask task: rows for consecutive frames ``first, first+1, ...`` of ``source``."""
    return [analyse_frame(source, first + k, atoms, opts) for k, atoms in enumerate(frames)]


def plan_chunks(files: list[str], chunk: int) -> Iterator[tuple[str, int, list]]:
    for path in files:
        frames = read_frames(path)
        for first in range(0, len(frames), chunk):
            yield path, first, frames[first : first + chunk]


def write_table(rows: list[dict], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(rows, schema=_schema())
    with atomic_path(path) as tmp:
        if path.suffix == ".csv":
            pacsv.write_csv(table, tmp)
        else:
            pq.write_table(table, tmp)


def _schema():
    import pyarrow as pa

    types = {"source": pa.string(), "elf_file": pa.string(), "frame": pa.int64(), "natoms": pa.int64(), "n_max": pa.int64(),
             "n_bond": pa.int64(), "n_ring": pa.int64(), "n_cage": pa.int64(), "morse_sum": pa.int64(), "largest_cluster": pa.int64(),
             "out_of_domain": pa.bool_()}
    return pa.schema([(c, types.get(c, pa.float64())) for c in COLUMNS])


def read_parts(parts: Path) -> list[dict]:
    import pyarrow.parquet as pq

    rows = []
    for part in sorted(parts.glob("*.parquet")):
        rows += pq.read_table(part).to_pylist()
    return rows


def screen(inputs: list[str], output: str, opts: ScreenOptions, chunk: int = 4, scheduler: str | None = None,
           workers: int | None = None, client=None, progress: bool = True, retries: int = 3) -> dict[str, Any]:
    """Run (or resume) a screening; returns a summary (frames, seconds, frames/s, memory)."""
    from dask.distributed import Client, LocalCluster, as_completed
    from tqdm import tqdm

    out = Path(output)
    parts = out.with_name(out.name + ".parts")
    parts.mkdir(parents=True, exist_ok=True)
    for stale in parts.glob(".*.tmp"):
        stale.unlink()
    files = input_files(inputs)
    chunks = list(plan_chunks(files, chunk))
    expected = {(os.path.abspath(src), first + k) for src, first, frames in chunks for k in range(len(frames))}
    todo = [(src, first, frames) for src, first, frames in chunks if not (parts / f"{chunk_key(src, first, first + len(frames))}.parquet").exists()]
    own = None
    if client is None:
        if scheduler:
            client = Client(scheduler)
        else:
            n = workers or max(1, os.cpu_count() or 1)
            # silence_logs: a worker's heartbeat racing the scheduler's shutdown logs a traceback
            # that means nothing; task failures still reach us through the futures
            own = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                               memory_limit=f"{max(1, 20 // n)}GiB", silence_logs=logging.CRITICAL)
            client = Client(own)
    t0 = time.perf_counter()
    n_todo = sum(len(f) for _, _, f in todo)
    bar = tqdm(total=len(expected), initial=len(expected) - n_todo, unit="frame", desc="screen", disable=not progress)
    peak = 0.0
    try:
        futures = {client.submit(process_chunk, src, first, frames, opts, retries=retries, pure=False): (src, first, len(frames))
                   for src, first, frames in todo}
        for fut in as_completed(futures):
            src, first, n = futures[fut]
            rows = fut.result()
            write_table(rows, parts / f"{chunk_key(src, first, first + n)}.parquet")
            peak = max([peak, *[r["worker_peak_mb"] for r in rows]])
            bar.update(n)
            elapsed = time.perf_counter() - t0
            bar.set_postfix(frames_per_s=f"{(bar.n - (len(expected) - n_todo)) / max(elapsed, 1e-9):.2f}")
    finally:
        bar.close()
        if own is not None:
            client.close()
            own.close()
    seconds = time.perf_counter() - t0
    rows = read_parts(parts)
    got = [(os.path.abspath(r["source"]), r["frame"]) for r in rows]
    if len(got) != len(set(got)) or set(got) != expected:
        raise GeoelfError(f"results hold {len(set(got))} distinct frames of {len(expected)} (duplicates: {len(got) - len(set(got))})", str(parts))
    rows.sort(key=lambda r: (r["source"], r["frame"]))
    write_table(rows, out)
    summary = {"frames": len(rows), "computed": n_todo, "seconds": seconds, "frames_per_s": n_todo / seconds if n_todo else None,
               "worker_peak_mb": peak or None, "output": str(out)}
    with atomic_path(out.with_name(out.name + ".summary.json")) as tmp:
        Path(tmp).write_text(json.dumps(summary, indent=1))
    return summary


def summary_plot(rows: list[dict], path: str) -> str:
    from geoelf.plots import _pyplot

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
    with_p = [r for r in rows if r.get("pressure_gpa") is not None]
    if with_p:
        ax.scatter([r["pressure_gpa"] for r in with_p], [r["phi_3d"] for r in with_p], s=8)
        ax.set_xlabel("pressure (GPa)")
    else:
        ax.plot(range(len(rows)), [r["phi_3d"] for r in rows], ".-", ms=3, lw=0.6)
        ax.set_xlabel("frame (all inputs in order)")
    ax.set_ylabel("networking value φ")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path
