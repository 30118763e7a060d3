"""`geoelf screen`: predict + network analysis for every frame of many inputs, on Dask.

Every row is keyed by what made it: the sha256 of its input file's content, its frame index and
the run's provenance hash (model weights and settings, geoelf version, every option that changes a
number). Finished rows are kept in ``OUT.parts/`` (one Parquet file per Dask task, written
atomically). A rerun reads them, computes exactly the frames whose key is missing — another
isovalue, model or grid, a replaced input file, frames not asked for before — and writes a table
that holds exactly the frames asked for this time, in input order, whatever ``--chunk`` or subset
of inputs earlier runs used. A frame that cannot be processed becomes a row with an ``error``
column instead of ending the run. A worker that dies mid-task is replaced by its nanny and Dask
reruns the task (``retries``), so killing a worker never loses or duplicates a frame.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geoelf.errors import GeoelfError
from geoelf.io.common import atomic_path, file_stem
from geoelf.io.structures import read_frames
from geoelf.provenance import canonical_sha256, file_sha256, run_provenance
from geoelf.topology.network import FRAME_KEYS
from geoelf.topology.uncertainty import SIGMA_KEYS

log = logging.getLogger(__name__)
KEY = ("input_sha256", "frame", "provenance_sha256")
# what made a row: the input file's content, the run's provenance and its parts
PROVENANCE_COLUMNS = (
    "input_sha256", "provenance_sha256", "model", "weights_sha256", "config_sha256", "geoelf_version",
)  # fmt: skip
COLUMNS = [
    "source", "frame", "natoms", *FRAME_KEYS, *SIGMA_KEYS, "rs", "density_g_cm3", "pressure_gpa",
    "out_of_domain", "ood_score", "seconds", "seconds_predict", "worker_peak_mb", "elf_file", "error",
    *PROVENANCE_COLUMNS,
]  # fmt: skip
_STRINGS = ("source", "elf_file", "error", *PROVENANCE_COLUMNS)
_INTEGERS = ("frame", "natoms", "n_max", "n_bond", "n_ring", "n_cage", "morse_sum", "largest_cluster")
OUTPUT_SUFFIXES = (".parquet", ".csv")
PROVENANCE_KEY = b"geoelf.provenance"  # Parquet schema metadata: the run's provenance (JSON)
_MODELS: dict[str, Any] = {}


@dataclass
class ScreenOptions:
    model: str | None = None
    grid: tuple[int, int, int] | None = None
    spacing: float | None = None
    elf_out: str | None = None
    threads: int = 1
    # Clusters are counted at a fixed isovalue: at φ_3D every H is in the percolating network by
    # definition, which would make the H2 fraction meaningless for screening.
    isovalue: float = 0.7
    max_memory_gb: float | None = None  # frames whose grid would need more are refused before any work
    uncertainty: bool = False  # σ of each φ and of the ELF (costs about 0.5 s a 64-atom frame)

    def numbers(self) -> dict[str, Any]:
        """The options that change a number in a row (``elf_out`` and ``threads`` do not)."""
        from geoelf.topology.network import TOPOLOGY_SETTINGS

        return {
            "grid": list(self.grid) if self.grid else None,
            "spacing_A": self.spacing,
            "isovalue": self.isovalue,
            "topology": TOPOLOGY_SETTINGS,
            "uncertainty": self.uncertainty,
        }


def input_files(inputs: list[str]) -> list[str]:
    """Files to read: given files, and the structure files inside given folders (sorted).

    Inside a folder only files whose format ASE recognises are taken (a ``notes.txt`` beside the
    trajectories is skipped, with a log line); a named file is always taken.
    """
    files = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            for f in sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith(".")):
                if _is_structure_file(f):
                    files.append(str(f))
                else:
                    log.info("skipping %s: not a structure file ASE reads", f)
        elif p.exists():
            files.append(str(p))
        else:
            raise GeoelfError("no such file or folder", item)
    if not files:
        raise GeoelfError("no input structures found", " ".join(inputs))
    return files


def _is_structure_file(path: Path) -> bool:
    from ase.io.formats import UnknownFileTypeError, filetype, ioformats

    try:
        fmt = filetype(str(path), read=True)
    except (UnknownFileTypeError, OSError, ValueError):
        return False
    return fmt in ioformats and ioformats[fmt].can_read


def get_model(model: str | None, threads: int):
    """The model of a worker process, loaded once (a per-process cache)."""
    key = f"{model}|{threads}"
    if key not in _MODELS:
        from geoelf.model.baselines import get_model as load

        _MODELS[key] = load(model, threads)
    return _MODELS[key]


def analyse_frame(source: str, frame: int, atoms, opts: ScreenOptions) -> dict[str, Any]:
    """One output row: prediction, network descriptors, counts, density, pressure, timings."""
    import resource

    from geoelf.model.grids import grid_shape
    from geoelf.model.predict import describe

    t0 = time.perf_counter()
    pred = get_model(opts.model, opts.threads)
    shape = grid_shape(
        atoms.cell.array,
        opts.grid,
        opts.spacing,
        source,
        max_memory_gb=opts.max_memory_gb,
        model_bytes=pred.structure_bytes(atoms),
    )
    result = pred.grid(atoms, shape, source=source, uncertainty=opts.uncertainty)
    # the same critical points and φ as `geoelf topology` and `geoelf network`, and the same frame
    # description as `geoelf predict --network`
    description, _ = describe(result, opts.isovalue, pred.calibration)
    row = {
        **description,
        "out_of_domain": result.out_of_domain,
        "ood_score": result.ood_score,
        "seconds_predict": result.seconds,
        "elf_file": None,
    }
    if opts.elf_out:
        from geoelf.io import write

        name = str(Path(opts.elf_out) / f"{file_stem(source)}_{frame:06d}.cube.gz")
        write(result.field, name)
        row["elf_file"] = name
    row["seconds"] = time.perf_counter() - t0
    row["worker_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return row


def structure_columns(atoms) -> dict[str, Any]:
    """Columns that need no model: atom count, density and the pressure a trajectory carries."""
    from geoelf.units import density_g_cm3, wigner_seitz_rs

    n = len(atoms)
    return {
        "natoms": n,
        "rs": wigner_seitz_rs(atoms.get_volume(), n),
        "density_g_cm3": density_g_cm3(atoms),
        "pressure_gpa": _pressure(atoms),
    }


def _pressure(atoms) -> float | None:
    for key in ("pressure_gpa", "pressure"):
        if key in atoms.info:
            return float(atoms.info[key])
    return None


def process_chunk(
    source: str, sha: str, frames: list[tuple[int, Any]], opts: ScreenOptions, provenance: dict[str, Any]
) -> list[dict[str, Any]]:
    """A Dask task: one row for each (frame index, atoms) of ``source``. A frame that fails becomes
    a row whose ``error`` says why; the task itself never fails on a bad frame."""
    rows = []
    for frame, atoms in frames:
        row: dict[str, Any] = dict.fromkeys(COLUMNS)
        row.update(
            source=source,
            frame=frame,
            input_sha256=sha,
            provenance_sha256=provenance["sha256"],
            model=provenance["model"],
            weights_sha256=provenance["weights_sha256"],
            config_sha256=provenance["config_sha256"],
            geoelf_version=provenance["geoelf_version"],
        )
        try:
            row.update(structure_columns(atoms))
            row.update(analyse_frame(source, frame, atoms, opts))
        except GeoelfError as exc:
            row["error"] = exc.message
        except Exception as exc:  # a bug or a numerical failure on one frame must not lose the others
            row["error"] = f"{exc.__class__.__name__}: {exc}"[:300]
        rows.append(row)
    return rows


def write_table(rows: list[dict], path: Path, provenance: dict[str, Any] | None = None) -> None:
    """Rows as Parquet (with the run's provenance in the schema metadata) or CSV, atomically."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    schema = _schema()
    if provenance is not None:
        schema = schema.with_metadata({PROVENANCE_KEY: json.dumps(provenance).encode()})
    table = pa.Table.from_pylist(rows, schema=schema)
    with atomic_path(path) as tmp:
        if path.suffix == ".csv":
            pacsv.write_csv(table, tmp)
        else:
            pq.write_table(table, tmp)


def table_provenance(path: str | Path) -> dict[str, Any] | None:
    """The provenance a screening table was written with (Parquet), or None."""
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    return json.loads(meta[PROVENANCE_KEY]) if PROVENANCE_KEY in meta else None


def _schema():
    import pyarrow as pa

    def kind(c: str):
        return (
            pa.string()
            if c in _STRINGS
            else pa.int64()
            if c in _INTEGERS
            else pa.bool_()
            if c == "out_of_domain"
            else pa.float64()
        )

    return pa.schema([(c, kind(c)) for c in COLUMNS])


def stored_rows(parts: Path) -> dict[tuple, dict]:
    """Finished rows of earlier runs by key; rows without the key columns (older layouts) and rows
    that failed are left out, so they are computed again."""
    import pyarrow.parquet as pq

    rows: dict[tuple, dict] = {}
    for part in sorted(parts.glob("*.parquet")):
        try:
            table = pq.read_table(part).to_pylist()
        except Exception:  # a damaged part is recomputed rather than trusted
            log.warning("ignoring unreadable part %s", part)
            continue
        for row in table:
            if all(row.get(k) is not None for k in KEY) and not row.get("error"):
                rows[tuple(row[k] for k in KEY)] = row
    return rows


@dataclass
class Request:
    """The frames asked for: (source, input sha256, frame index, atoms) in input order."""

    frames: list[tuple[str, str, int, Any]]

    @classmethod
    def read(cls, files: list[str]) -> Request:
        out = []
        for path in files:
            sha = file_sha256(path)
            out += [(path, sha, k, atoms) for k, atoms in enumerate(read_frames(path))]
        return cls(out)


def _reusable(row: dict | None, opts: ScreenOptions) -> bool:
    """A stored row answers the request unless ELF files are asked for and its file is missing."""
    if row is None:
        return False
    if not opts.elf_out:
        return True
    elf = row.get("elf_file")
    return elf is not None and Path(elf).parent.resolve() == Path(opts.elf_out).resolve() and Path(elf).is_file()


def _check_grids(frames: list[tuple[str, str, int, Any]], opts: ScreenOptions) -> None:
    """Refuse the run before any work when one frame's grid cannot fit in memory (the largest cell
    of each input is the one to check)."""
    from geoelf.field import check_cell
    from geoelf.model.grids import grid_shape

    largest: dict[str, tuple[float, Any]] = {}
    for source, _, _, atoms in frames:
        if source not in largest or atoms.get_volume() > largest[source][0]:
            largest[source] = (atoms.get_volume(), atoms)
    for source, (_, atoms) in largest.items():
        try:
            check_cell(atoms.cell.array, source)
        except GeoelfError:
            continue  # a bad cell is that frame's own error row, not the run's
        grid_shape(atoms.cell.array, opts.grid, opts.spacing, source, max_memory_gb=opts.max_memory_gb)


def _tasks(todo: list[tuple[str, str, int, Any]], chunk: int) -> list[tuple[str, str, list]]:
    """Consecutive frames of one input, at most ``chunk`` a task."""
    tasks: list[tuple[str, str, list]] = []
    for source, sha, frame, atoms in todo:
        if tasks and tasks[-1][1] == sha and tasks[-1][0] == source and len(tasks[-1][2]) < chunk:
            tasks[-1][2].append((frame, atoms))
        else:
            tasks.append((source, sha, [(frame, atoms)]))
    return tasks


def check_output(output: str) -> Path:
    out = Path(output)
    if out.suffix.lower() not in OUTPUT_SUFFIXES:
        raise GeoelfError(f"the results table must end in {' or '.join(OUTPUT_SUFFIXES)}", output)
    if not out.parent.is_dir():
        raise GeoelfError("the output's folder does not exist", str(out.parent))
    return out


def screen(
    inputs: list[str],
    output: str,
    opts: ScreenOptions,
    chunk: int = 4,
    scheduler: str | None = None,
    workers: int | None = None,
    client=None,
    progress: bool = True,
    retries: int = 3,
    fresh: bool = False,
) -> dict[str, Any]:
    """Run (or resume) a screening; returns a summary (frames, computed, failed, seconds, frames/s,
    memory, provenance). Cheap checks (output name, inputs, model) come before any Dask work."""
    from geoelf.model.baselines import get_model as load_model

    out = check_output(output)
    files = input_files(inputs)
    model = load_model(opts.model)
    options = opts.numbers()
    if opts.uncertainty:
        if model.calibration is None:
            raise GeoelfError(f"model {model.name} has no uncertainty calibration (geoelf calibrate makes one)")
        options["uncertainty_sha256"] = model.calibration.sha256
    provenance = run_provenance(model, options)
    request = Request.read(files)
    parts = out.with_name(out.name + ".parts")
    if fresh and parts.exists():
        shutil.rmtree(parts)
    parts.mkdir(parents=True, exist_ok=True)
    for stale in parts.glob(".*.tmp"):
        stale.unlink()
    stored = stored_rows(parts)
    pid = provenance["sha256"]
    todo = [f for f in request.frames if not _reusable(stored.get((f[1], f[2], pid)), opts)]
    _check_grids(todo, opts)
    t0 = time.perf_counter()
    new_rows, peak = _compute(
        _tasks(todo, chunk), parts, opts, provenance, len(request.frames), scheduler, workers, client, progress, retries
    )
    seconds = time.perf_counter() - t0
    stored.update({tuple(r[k] for k in KEY): r for r in new_rows})
    rows = []
    for source, sha, frame, _ in request.frames:
        row = dict(stored[(sha, frame, pid)])
        row["source"] = source  # the name given this time (a reused row may come from a copy elsewhere)
        rows.append(row)
    write_table(rows, out, provenance)
    failed = [r for r in rows if r["error"]]
    summary = {
        "frames": len(rows),
        "computed": len(todo),
        "failed": len(failed),
        "first_failure": None
        if not failed
        else f"{failed[0]['source']} frame {failed[0]['frame']}: {failed[0]['error']}",
        "seconds": seconds,
        "frames_per_s": len(todo) / seconds if todo else None,
        "worker_peak_mb": peak or None,
        "output": str(out),
        "provenance": provenance,
    }
    with atomic_path(out.with_name(out.name + ".summary.json")) as tmp:
        Path(tmp).write_text(json.dumps(summary, indent=1))
    return summary


def _compute(
    tasks: list[tuple[str, str, list]],
    parts: Path,
    opts: ScreenOptions,
    provenance: dict[str, Any],
    total: int,
    scheduler: str | None,
    workers: int | None,
    client,
    progress: bool,
    retries: int,
) -> tuple[list[dict], float]:
    """Run the tasks on Dask; each finished task's rows are written as a part at once."""
    from tqdm import tqdm

    if not tasks:
        return [], 0.0
    from dask.distributed import as_completed

    client, own = _client(client, scheduler, workers)
    n_todo = sum(len(frames) for _, _, frames in tasks)
    bar = tqdm(total=total, initial=total - n_todo, unit="frame", desc="screen", disable=not progress)
    t0, peak, rows = time.perf_counter(), 0.0, []
    try:
        futures = {
            client.submit(process_chunk, source, sha, frames, opts, provenance, retries=retries, pure=False): (
                sha,
                frames,
            )
            for source, sha, frames in tasks
        }
        for fut in as_completed(futures):
            sha, frames = futures[fut]
            done = fut.result()
            key = canonical_sha256([sha, [f for f, _ in frames], provenance["sha256"]])[:20]
            write_table(done, parts / f"{key}.parquet")
            rows += done
            peak = max([peak, *[r["worker_peak_mb"] or 0.0 for r in done]])
            bar.update(len(frames))
            bar.set_postfix(frames_per_s=f"{len(rows) / max(time.perf_counter() - t0, 1e-9):.2f}")
    except KeyboardInterrupt:
        # the shutdown that follows is the user's wish: Dask's warnings about it are noise
        logging.getLogger("distributed").setLevel(logging.CRITICAL)
        raise
    finally:
        bar.close()
        if own is not None:
            client.close()
            own.close()
    return rows, peak


def _client(client, scheduler: str | None, workers: int | None):
    """(client, cluster we own or None): the given client, a scheduler's, or a local cluster."""
    from dask.distributed import Client

    if client is not None:
        return client, None
    if scheduler:
        return Client(scheduler), None
    from geoelf.screen.cluster import local_cluster

    own = local_cluster(workers or max(1, os.cpu_count() or 1))
    return Client(own), own


def summary_plot(rows: list[dict], path: str) -> str:
    """φ_3D against pressure, or against the frame index of each input (one line per input)."""
    from geoelf.plots import _pyplot

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
    done = [r for r in rows if not r.get("error")]
    with_p = [r for r in done if r.get("pressure_gpa") is not None]
    if with_p:
        ax.scatter([r["pressure_gpa"] for r in with_p], [r["phi_3d"] for r in with_p], s=8)
        ax.set_xlabel("pressure (GPa)")
    else:
        sources = list(dict.fromkeys(r["source"] for r in done))
        for source in sources:
            mine = sorted((r["frame"], r["phi_3d"]) for r in done if r["source"] == source)
            ax.plot([m[0] for m in mine], [m[1] for m in mine], ".-", ms=3, lw=0.6, label=Path(source).name)
        if 1 < len(sources) <= 10:
            ax.legend(fontsize=7)
        ax.set_xlabel("frame")
    ax.set_ylabel("networking value φ")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path
