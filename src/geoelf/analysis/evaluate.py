"""A model against DFT ELF references: the document that ``geoelf evaluate --json`` prints.

Per file: R², MAE, RMSE, max error, W1 of the value distributions and (with topology) φ of both
fields and the matched critical points (``geoelf.analysis.compare``); pooled over all files; per
pressure bin; and the provenance of the run (model, weights and config sha256, options).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from geoelf.errors import GeoelfError
from geoelf.field import Field

PHI_TOLERANCE = 0.02  # |Δφ_3D| counted as agreeing with DFT in the aggregate


def references(
    paths: Iterable[str] = (), dataset: str | None = None, split: str | None = None
) -> Iterator[tuple[str, Field, dict[str, Any]]]:
    """(path, DFT ELF field, sample metadata) of ELF files and of every sample of a dataset split."""
    paths = list(paths)
    if split:
        from geoelf.data.dataset import samples_of_split

        paths += [str(p) for p in samples_of_split(dataset or "data/v1", split)]
    if not paths:
        raise GeoelfError("give reference files or --dataset DIR --split NAME")
    for path in paths:
        if Path(path).suffix == ".h5":
            from geoelf.data.sample import read_sample

            field, meta = read_sample(path)
        else:
            from geoelf.io import read_elf

            field, meta = read_elf(path), {}
        yield path, field, meta


def evaluate(
    model: Any, refs: Iterable[tuple[str, Field, dict[str, Any]]], topology: bool = True, plots: str | None = None
) -> dict[str, Any]:
    """Predict each reference's grid with ``model`` (a ``Predictor`` or baseline) and compare.

    Returns ``{"model", "provenance", "files", "aggregate", "by_pressure"}`` (and ``"plots"``, the PNG
    paths, when ``plots`` names a folder).
    """
    from geoelf.analysis.compare import compare, metrics
    from geoelf.data.dataset import pressure_bin
    from geoelf.provenance import file_sha256, run_provenance
    from geoelf.topology.network import TOPOLOGY_SETTINGS

    provenance = run_provenance(model, {"topology": TOPOLOGY_SETTINGS if topology else None})
    files: list[dict[str, Any]] = []
    ref_values: list[np.ndarray] = []
    pred_values: list[np.ndarray] = []
    bins: dict[str, list[int]] = {}
    for path, ref, meta in refs:
        pred = model.grid(ref.atoms, ref.shape, source=path)
        files.append(
            {
                "path": path,
                "input_sha256": file_sha256(path),
                **compare(ref, pred.field, topology=topology),
                "seconds_predict": pred.seconds,
                "out_of_domain": pred.out_of_domain,
                "pressure_gpa": meta.get("pressure_gpa"),
            }
        )
        ref_values.append(ref.data.ravel())
        pred_values.append(pred.field.data.ravel())
        bins.setdefault(pressure_bin(meta.get("pressure_gpa")), []).append(len(files) - 1)
    r, p = np.concatenate(ref_values), np.concatenate(pred_values)
    aggregate: dict[str, float | None] = {**metrics(r, p), **(_topology_aggregate(files) if topology else {})}
    aggregate["seconds_predict_median"] = float(np.median([f["seconds_predict"] for f in files]))
    by_pressure = {
        name: {
            "files": len(idx),
            **metrics(np.concatenate([ref_values[i] for i in idx]), np.concatenate([pred_values[i] for i in idx])),
        }
        for name, idx in sorted(bins.items())
    }
    doc: dict[str, Any] = {
        "model": model.name,
        "provenance": provenance,
        "files": files,
        "aggregate": aggregate,
        "by_pressure": by_pressure,
    }
    if plots:
        from geoelf.analysis.plots import parity_and_histogram

        doc["plots"] = parity_and_histogram(r, p, plots, model.name)
    return doc


def _topology_aggregate(files: list[dict[str, Any]]) -> dict[str, float | None]:
    """Fraction of files with |Δφ_3D| ≤ PHI_TOLERANCE and of DFT critical points matched."""
    phi = [
        abs(f["phi_3d_pred"] - f["phi_3d_ref"])
        for f in files
        if f["phi_3d_pred"] is not None and f["phi_3d_ref"] is not None
    ]
    return {
        "phi_3d_within_0.02": float(np.mean(np.array(phi) <= PHI_TOLERANCE)) if phi else None,
        "cp_matched_fraction": sum(f["cp_matched"] for f in files) / max(1, sum(f["cp_ref"] for f in files)),
    }
