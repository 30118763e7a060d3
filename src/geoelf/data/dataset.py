"""A dataset is a folder tree of sample files (``*.h5``, schema in sample.py) and, optionally,
``splits.json``. Nothing else is needed: the index is rebuilt from the finished samples every
time (their metadata only), so adding a sample never rewrites another file.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from geoelf.data.sample import read_meta, read_sample, write_sample
from geoelf.errors import GeoelfError
from geoelf.io.common import atomic_path, file_stem

DEFAULT_DATASET = "data/v1"  # the dataset a command or training config reads when given none
PRESSURE_BINS = [0, 100, 200, 300, 400, 500, 700, 1000]  # GPa
HELD_OUT_FILE = "held_out.json"  # a dataset's own choice of the solid structure types its split holds out
HETEROGENEOUS = ("defect", "two-phase")  # phases of v2's cells with defects or two phases side by side


def find_samples(root: str | Path) -> list[Path]:
    """All finished sample files under ``root`` (a folder or one .h5 file), sorted."""
    root = Path(root)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise GeoelfError("no such dataset folder", str(root))
    return sorted(p for p in root.rglob("*.h5") if not p.name.startswith("."))


def index(root: str | Path) -> list[dict[str, Any]]:
    """Metadata of every sample (with ``path``), read from the files themselves."""
    rows = []
    for path in find_samples(root):
        try:
            meta = read_meta(path)
        except OSError as exc:
            raise GeoelfError(f"unreadable sample ({exc})", str(path)) from None
        meta["path"] = str(path)
        rows.append(meta)
    return rows


def condition_of(meta: dict[str, Any]) -> str:
    """The sampling condition a sample's accuracy is reported by: a fluid's cell size, density (bohr)
    and temperature (K), e.g. 'N64 rs1.05 T1500'; a thermal solid's or heterogeneous cell's phase
    ('solid', 'defect', 'two-phase'); 'crystal' for a relaxed crystal."""
    phase = meta.get("phase")
    if phase == "fluid":
        return f"N{meta.get('natoms')} rs{meta.get('rs', 0):.2f} T{meta.get('temperature_k', 0)}"
    return phase if phase in ("solid", *HETEROGENEOUS) else "crystal"


def pressure_bin(p: float | None) -> str:
    """Label of the pressure bin of ``p`` GPa, e.g. '100-200'."""
    if p is None:
        return "unknown"
    for lo, hi in itertools.pairwise(PRESSURE_BINS):
        if lo <= p < hi:
            return f"{lo}-{hi}"
    return f">={PRESSURE_BINS[-1]}" if p >= PRESSURE_BINS[-1] else f"<{PRESSURE_BINS[0]}"


def load_splits(root: str | Path) -> dict[str, list[str]]:
    path = Path(root) / "splits.json"
    if not path.is_file():
        return {}
    return json.loads(path.read_text())["splits"]


def split_of(meta: dict[str, Any], splits: dict[str, list[str]]) -> str:
    key = meta.get("trajectory") or meta.get("sample_id")
    for name, members in splits.items():
        if key in members:
            return name
    return "unassigned"


def info(root: str | Path) -> dict[str, Any]:
    """Counts by phase, split, atom count, density, temperature and pressure bin; sizes."""
    rows = index(root)
    splits = load_splits(root) if Path(root).is_dir() else {}
    total_bytes = sum(os.path.getsize(r["path"]) for r in rows)
    # keys in natural order (300 K before 1000 K, 48 atoms before 128)
    by = lambda key: dict(sorted(Counter(str(key(r)) for r in rows).items(), key=lambda kv: _natural_key(kv[0])))  # noqa: E731
    pressures = [float(r["pressure_gpa"]) for r in rows if r.get("pressure_gpa") is not None]
    return {
        "root": str(root),
        "total": len(rows),
        # the JSON contract's keys are always there, 0 when a dataset has none of them yet
        "by_phase": {
            "fluid": 0,
            "crystal": 0,
            # fluid, solid (thermal snapshots), defect, two-phase, crystal (relaxed: their phase names the structure)
            **by(
                lambda r: (
                    r.get("phase")
                    if r.get("phase") in ("fluid", "solid", *HETEROGENEOUS)
                    else "crystal"
                    if r.get("phase")
                    else "unknown"
                )
            ),
        },
        "by_split": by(lambda r: split_of(r, splits)) if splits else {},
        "natoms": {"64": 0, "128": 0, **by(lambda r: r.get("natoms"))},
        "by_rs": by(lambda r: f"{r['rs']:.2f}" if r.get("rs") is not None else "none"),
        "by_temperature": by(lambda r: r.get("temperature_k", "none")),
        "by_pressure_gpa": by(lambda r: pressure_bin(r.get("pressure_gpa"))),
        # a solid's or heterogeneous cell's trajectory and a crystal's structure beside its condition
        "by_condition": by(
            lambda r: (
                condition_of(r)
                if r.get("phase") == "fluid"
                else f"{condition_of(r)} {r.get('trajectory')}"
                if r.get("phase") in ("solid", *HETEROGENEOUS)
                else f"{condition_of(r)} {r.get('phase')}"
            )
        ),
        "trajectories": len({r.get("trajectory") for r in rows if r.get("trajectory")}),
        "pressure_range_gpa": [min(pressures), max(pressures)] if pressures else None,
        "bytes": total_bytes,
    }


def _natural_key(name: str) -> list:
    """Sort key with digit runs as numbers: ..._s100 < ..._s1100 < ..._s2100, ..._r2 < ..._r10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def make_splits(root: str | Path) -> dict[str, list[str]]:
    """Split by trajectory: no MD run ever has frames on two sides.

    64-atom fluid conditions (rs, T) with ≥ 2 trajectories give their second trajectory (in
    natural name order, i.e. the second replica by seed) away — to 'test' where the ranks of rs
    and T among the conditions add up to an even number, to 'val' where odd (a checkerboard, so
    test and val each cover every density and every temperature) — and keep the others for
    'train', so every condition is trained on. Later replicas join 'train' and never move a
    held-out trajectory. Other fluid cell sizes go to 'test_large' (size transfer), relaxed
    crystals to 'crystal' (but see below). Thermal solids (phase 'solid') are held out by structure type: the types
    that the dataset's held_out.json lists (or, without it, every third type in name order from the
    second), with their trajectories at every pressure and temperature, go to 'test_solid', the
    others to 'train', so a held-out type is never seen; of each trained type with two runs or more,
    the second run in name order goes to 'val', so that choosing the checkpoint and calibrating the
    error model see solids of known types at another temperature or pressure. A relaxed crystal of
    a type that has thermal solids here follows its type: to 'test_solid' if the type is held out,
    else to 'val', so that the error model also sees solids without their vibrations.
    Heterogeneous cells (phases 'defect' and 'two-phase': vacancies, interstitials, solid | fluid and
    molecular | atomic fluid cells) are held out by host within each kind: of each kind's cells in
    name order, every second goes to 'test_heterogeneous', so every kind is trained on and tested on
    hosts it never saw; a cell whose host crystal is a held-out structure type goes to
    'test_heterogeneous' first, so no held-out type reaches training inside a defect or two-phase cell.
    """
    rows = index(root)
    by_condition: dict[tuple, set[str]] = defaultdict(set)
    solids: dict[str, set[str]] = defaultdict(set)
    heterogeneous: dict[str, set[str]] = defaultdict(set)
    crystals: list[str] = []
    splits: dict[str, list[str]] = {
        "train": [],
        "val": [],
        "test": [],
        "test_large": [],
        "crystal": [],
        "test_solid": [],
        "test_heterogeneous": [],
    }
    for r in rows:
        if r.get("phase") == "solid":
            solids[structure_type(r["trajectory"])].add(r["trajectory"])
        elif r.get("phase") in HETEROGENEOUS:
            heterogeneous[r["trajectory"].rsplit("_", 1)[-1]].add(r["trajectory"])
        elif r.get("phase") != "fluid":
            crystals.append(r.get("trajectory") or r["sample_id"])
        elif r.get("natoms") != 64:
            splits["test_large"].append(r["trajectory"])
        else:
            by_condition[(r["rs"], r["temperature_k"])].add(r["trajectory"])
    rs_rank = {v: i for i, v in enumerate(sorted({c[0] for c in by_condition}))}
    t_rank = {v: i for i, v in enumerate(sorted({c[1] for c in by_condition}))}
    for cond in sorted(by_condition):
        trajs = sorted(by_condition[cond], key=_natural_key)
        if len(trajs) >= 2:
            splits["test" if (rs_rank[cond[0]] + t_rank[cond[1]]) % 2 == 0 else "val"].append(trajs.pop(1))
        splits["train"].extend(trajs)
    held_out = held_out_solid_types(root, sorted(solids))
    for kind in sorted(solids):
        runs = sorted(solids[kind], key=_natural_key)
        if kind in held_out:
            splits["test_solid"].extend(runs)
            continue
        if len(runs) >= 2:
            splits["val"].append(runs.pop(1))
        splits["train"].extend(runs)
    for name in crystals:
        kind = structure_type(name)
        splits["test_solid" if kind in held_out else "val" if kind in solids else "crystal"].append(name)
    for cells in heterogeneous.values():
        hosted_by_held = sorted(c for c in cells if structure_type(c) in held_out)
        splits["test_heterogeneous"].extend(hosted_by_held)
        for k, cell in enumerate(sorted(cells - set(hosted_by_held), key=_natural_key)):
            splits["test_heterogeneous" if k % 2 == 1 else "train"].append(cell)
    splits = {k: sorted(set(v)) for k, v in splits.items() if v or k not in ("test_solid", "test_heterogeneous")}
    rule = " ".join((make_splits.__doc__ or "").split("\n\n")[1].split())
    with atomic_path(Path(root) / "splits.json") as tmp:
        Path(tmp).write_text(json.dumps({"version": 2, "rule": rule, "splits": splits}, indent=1))
    return splits


def held_out_solid_types(root: str | Path, types: list[str]) -> set[str]:
    """The structure types of thermal solids that 'test_solid' holds out: the ``solid_types`` of the
    dataset's held_out.json (a choice made for the science, e.g. one atomic and two molecular types,
    none hosting a heterogeneous cell), else every third of ``types`` in name order from the second."""
    path = Path(root) / HELD_OUT_FILE
    if not path.is_file():
        return {t for k, t in enumerate(sorted(types)) if k % 3 == 1}
    try:
        listed = json.loads(path.read_text())["solid_types"]
    except (ValueError, KeyError, TypeError) as exc:
        raise GeoelfError(f"cannot read its solid_types: {exc!r}", str(path)) from None
    if not isinstance(listed, list) or not all(isinstance(t, str) for t in listed):
        raise GeoelfError("solid_types must be a list of structure type names", str(path))
    missing = sorted(set(listed) - set(types))
    if types and missing:  # a misspelt type would silently train on what it means to hold out
        raise GeoelfError(f"lists {', '.join(missing)}, which has no thermal solids here", str(path))
    return set(listed)


def structure_type(trajectory: str) -> str:
    """The structure type of a thermal solid's trajectory name, TYPE_PRESSURE_TEMPERATURE (e.g. Pa-3_50GPa_T300)."""
    return trajectory.split("_")[0]


def samples_of_split(root: str | Path, split: str) -> list[Path]:
    splits = load_splits(root)
    if split not in splits:
        raise GeoelfError(
            f"no split {split!r} (run 'geoelf dataset split' first; have: {', '.join(splits) or 'none'})", str(root)
        )
    return [Path(r["path"]) for r in index(root) if split_of(r, splits) == split]


def split_spec(spec: str, dataset: str) -> tuple[str, str]:
    """(dataset folder, split name) of a split given as NAME (of ``dataset``) or as DATASET:NAME
    (``data/v2:test``), the way scripts that report on several datasets name their splits."""
    if ":" not in spec:
        return dataset, spec
    folder, name = spec.rsplit(":", 1)
    return folder, name


def dataset_folders(data: str | Path | Sequence[str | Path]) -> list[str]:
    """The dataset folders of a ``data`` setting or option: one folder, or a list of them."""
    return [str(data)] if isinstance(data, str | Path) else [str(d) for d in data]


def samples_of_datasets(data: str | Path | Sequence[str | Path], split: str) -> list[tuple[str, list[Path]]]:
    """Each dataset folder of ``data`` (``dataset_folders``) with the samples of its split ``split``, in
    order. A folder whose split is empty is an error: a dataset named for a split that gives nothing
    is a mistake."""
    out = []
    for folder in dataset_folders(data):
        paths = samples_of_split(folder, split)
        if not paths:
            raise GeoelfError(f"split {split!r} has no samples", folder)
        out.append((folder, paths))
    return out


def export(paths: Iterable[Path], out_dir: str | Path, fmt: str = "cube") -> list[Path]:
    """Write the ELF of each sample as a cube (``<id>.cube.gz``) or ELFCAR (``<id>/ELFCAR.gz``)."""
    from geoelf.io import write

    out = []
    for path in paths:
        field, meta = read_sample(path)
        sid = meta.get("sample_id", Path(path).stem)
        target = Path(out_dir) / (f"{sid}.cube.gz" if fmt == "cube" else f"{sid}/ELFCAR.gz")
        write(field, str(target))
        out.append(target)
    return out


def import_files(out_root: str | Path, files: Iterable[str], meta: dict[str, Any]) -> list[Path]:
    """Build samples from ELF files (cube, ELFCAR, XSF, .npz) or ``STRUCTURE:ELF`` pairs.

    The structure inside the ELF file is used unless a separate structure file is paired with it
    (it must have the same number of atoms). Finished samples are skipped.
    """
    from ase.io import read as read_structure

    from geoelf.field import Field
    from geoelf.io import read_elf

    written = []
    seen: set[str] = set()
    for item in files:
        structure_path, elf_path = item.split(":", 1) if ":" in item and not Path(item).exists() else (None, item)
        sid = file_stem(structure_path or elf_path)
        if sid in seen:
            raise GeoelfError(f"two inputs would both become sample {sid!r}; rename one", elf_path)
        seen.add(sid)
        target = Path(out_root) / f"{sid}.h5"
        if target.exists():
            continue
        field = read_elf(elf_path)
        if structure_path:
            try:
                atoms = read_structure(structure_path)
            except Exception as exc:  # ASE raises many types for bad files
                raise GeoelfError(f"cannot read structure ({exc.__class__.__name__})", structure_path) from None
            if len(atoms) != len(field.atoms):
                raise GeoelfError(f"structure has {len(atoms)} atoms, the ELF file {len(field.atoms)}", structure_path)
            field = Field(field.data, atoms, field.name)
        full = {
            "phase": "unknown",
            **{k: v for k, v in meta.items() if v is not None},
            "sample_id": sid,
            "natoms": len(field.atoms),
            "source_file": str(elf_path),
        }
        written.append(write_sample(target, field, full))
    return written
