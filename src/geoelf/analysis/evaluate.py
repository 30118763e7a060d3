"""A model against DFT ELF references: the document that ``geoelf evaluate --json`` prints.

Per file: R², MAE, RMSE, max error, W1 of the value distributions and (with topology) φ of both
fields and the matched critical points (``geoelf.analysis.compare``); pooled over all files; per
pressure bin; and the provenance of the run (model, weights and config sha256, options).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from geoelf.errors import GeoelfError
from geoelf.field import Field

PHI_TOLERANCE = 0.02  # |Δφ_3D| counted as agreeing with DFT in the aggregate


def references(
    paths: Iterable[str] = (), dataset: str | Sequence[str] | None = None, split: str | None = None
) -> Iterator[tuple[str, Field, dict[str, Any]]]:
    """(path, DFT ELF field, sample metadata) of ELF files and of every sample of a dataset split, or
    of the splits of that name of several datasets in their order (default dataset: data/v1)."""
    paths = list(paths)
    if split:
        from geoelf.data.dataset import DEFAULT_DATASET, samples_of_datasets

        paths += [str(p) for _, some in samples_of_datasets(dataset or DEFAULT_DATASET, split) for p in some]
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


def evaluation_provenance(model: Any, topology: bool = True, uncertainty: bool | None = None) -> dict[str, Any]:
    """The provenance ``evaluate`` records for these options (``geoelf.provenance.run_provenance``):
    two documents with the same ``sha256`` hold the same numbers for the same files."""
    from geoelf.provenance import run_provenance
    from geoelf.topology.network import TOPOLOGY_SETTINGS

    calibration = getattr(model, "calibration", None)
    options: dict[str, Any] = {"topology": TOPOLOGY_SETTINGS if topology else None}
    if calibration is not None and uncertainty is not False:  # σ's coverage is measured by default
        options["uncertainty_sha256"] = calibration.sha256
    return run_provenance(model, options)


def is_rerun(
    doc: dict[str, Any], model: Any, paths: Sequence[str], topology: bool = True, uncertainty: bool | None = None
) -> bool:
    """Whether an evaluation document is what ``evaluate`` would give now for ``paths``: the same
    provenance (geoelf version, weights, calibration, options) and the same files in the same order."""
    recorded = doc.get("provenance", {}).get("sha256")
    same_files = [f["path"] for f in doc.get("files", [])] == [str(p) for p in paths]
    return same_files and recorded == evaluation_provenance(model, topology, uncertainty)["sha256"]


def evaluate(
    model: Any,
    refs: Iterable[tuple[str, Field, dict[str, Any]]],
    topology: bool = True,
    plots: str | None = None,
    uncertainty: bool | None = None,
) -> dict[str, Any]:
    """Predict each reference's grid with ``model`` (a ``Predictor`` or baseline) and compare.

    Returns ``{"model", "provenance", "files", "aggregate", "by_pressure", "by_condition"}`` (the last
    two pooled by pressure bin and, for dataset samples, by ``geoelf.data.dataset.condition_of``; and
    ``"plots"``, the PNG paths, when ``plots`` names a folder). ``uncertainty`` (default: whenever the model carries a
    calibration) adds the coverage of its σ(x) and σ_φ to every file and to the aggregate.
    """
    from geoelf.analysis.compare import compare, metrics
    from geoelf.data.dataset import condition_of, pressure_bin
    from geoelf.provenance import file_sha256

    calibration = getattr(model, "calibration", None)
    uncertainty = calibration is not None if uncertainty is None else uncertainty
    error_model = None
    if uncertainty and calibration is not None:
        error_model = {"xi_A": calibration.xi_A, "samples": calibration.samples, "phi_scale": calibration.phi_scale}
    provenance = evaluation_provenance(model, topology, uncertainty)
    files: list[dict[str, Any]] = []
    ref_values: list[np.ndarray] = []
    pred_values: list[np.ndarray] = []
    bins: dict[str, list[int]] = {}
    conditions: dict[str, list[int]] = {}
    for path, ref, meta in refs:
        pred = model.grid(ref.atoms, ref.shape, source=path, uncertainty=uncertainty)
        files.append(
            {
                "path": path,
                "input_sha256": file_sha256(path),
                **compare(ref, pred.field, topology=topology, sigma=pred.sigma, error_model=error_model),
                "seconds_predict": pred.seconds,
                "out_of_domain": pred.out_of_domain,
                "ood_score": pred.ood_score,
                "points": int(ref.data.size),
                "pressure_gpa": meta.get("pressure_gpa"),
            }
        )
        ref_values.append(ref.data.ravel())
        pred_values.append(pred.field.data.ravel())
        bins.setdefault(pressure_bin(meta.get("pressure_gpa")), []).append(len(files) - 1)
        if meta:  # a dataset sample: its condition is known
            conditions.setdefault(condition_of(meta), []).append(len(files) - 1)
    r, p = np.concatenate(ref_values), np.concatenate(pred_values)
    aggregate: dict[str, float | None] = {**metrics(r, p), **(_topology_aggregate(files) if topology else {})}
    aggregate["seconds_predict_median"] = float(np.median([f["seconds_predict"] for f in files]))
    if uncertainty:
        aggregate.update(uncertainty_aggregate(files))
    doc: dict[str, Any] = {
        "model": model.name,
        "provenance": provenance,
        "files": files,
        "aggregate": aggregate,
        "by_pressure": _pooled_by_group(bins, files, ref_values, pred_values, topology),
        "by_condition": _pooled_by_group(conditions, files, ref_values, pred_values, topology),
    }
    if plots:
        from geoelf.analysis.plots import parity_and_histogram

        doc["plots"] = parity_and_histogram(r, p, plots, model.name)
    return doc


def _pooled_by_group(
    groups: dict[str, list[int]],
    files: list[dict[str, Any]],
    ref_values: list[np.ndarray],
    pred_values: list[np.ndarray],
    topology: bool,
) -> dict[str, dict[str, Any]]:
    """Metrics pooled over the points of each group of files (indices into ``files``), with the
    share of frames whose φ_3D is within PHI_TOLERANCE when topology was computed."""
    from geoelf.analysis.compare import metrics

    pooled = {}
    for name, idx in sorted(groups.items()):
        row: dict[str, Any] = {
            "files": len(idx),
            **metrics(np.concatenate([ref_values[i] for i in idx]), np.concatenate([pred_values[i] for i in idx])),
        }
        if topology:
            row["phi_3d_within_0.02"] = _topology_aggregate([files[i] for i in idx])["phi_3d_within_0.02"]
        pooled[name] = row
    return pooled


def _topology_aggregate(files: list[dict[str, Any]]) -> dict[str, float | None]:
    """Fraction of files with |Δφ_3D| ≤ PHI_TOLERANCE and of DFT critical points matched. A file where
    one field's attractor graph percolates in 3D and the other's does not (φ_3D of one side None) is a
    miss, not left out; files where neither percolates are left out."""
    phi = [
        np.inf if f["phi_3d_pred"] is None or f["phi_3d_ref"] is None else abs(f["phi_3d_pred"] - f["phi_3d_ref"])
        for f in files
        if f["phi_3d_pred"] is not None or f["phi_3d_ref"] is not None
    ]
    return {
        "phi_3d_within_0.02": float(np.mean(np.array(phi) <= PHI_TOLERANCE)) if phi else None,
        "cp_matched_fraction": sum(f["cp_matched"] for f in files) / max(1, sum(f["cp_ref"] for f in files)),
    }


def uncertainty_aggregate(files: list[dict[str, Any]]) -> dict[str, Any]:
    """Calibration over files: pointwise coverage pooled over all grid points, the fraction of
    files whose |Δφ_3D| lies within ±σ_φ and ±2σ_φ, both reliability curves and their expected
    calibration errors, and whether σ_φ is informative (the share of the files with
    |Δφ_3D| > PHI_TOLERANCE that lie in the top quarter of σ_φ)."""
    from geoelf.analysis.compare import NOMINAL, calibration_error, coverage

    weights = np.array([f["points"] for f in files], dtype=float)
    curve = np.average([f["coverage"]["curve"] for f in files], axis=0, weights=weights)
    out: dict[str, Any] = {
        "sigma_mean": float(np.average([f["sigma_mean"] for f in files], weights=weights)),
        "within_1sigma": float(np.average([f["coverage"]["within_1sigma"] for f in files], weights=weights)),
        "within_2sigma": float(np.average([f["coverage"]["within_2sigma"] for f in files], weights=weights)),
        "nominal": list(NOMINAL),
        "coverage_curve": [float(c) for c in curve],
        "ece": calibration_error(list(curve)),
    }
    rows = [f for f in files if f.get("phi_3d_sigma") and f.get("phi_3d_pred") is not None and f.get("phi_3d_ref")]
    if rows:
        err = np.array([f["phi_3d_pred"] - f["phi_3d_ref"] for f in rows])
        sig = np.array([f["phi_3d_sigma"] for f in rows])
        phi = coverage(err, sig)
        out["phi_3d"] = {
            "files": len(rows),
            "within_1sigma": phi["within_1sigma"],
            "within_2sigma": phi["within_2sigma"],
            "coverage_curve": phi["curve"],
            "ece": calibration_error(phi["curve"]),
            "sigma_median": float(np.median(sig)),
            "top_quarter_share_of_misses": _top_quarter_share(np.abs(err), sig),
        }
    return out


def _top_quarter_share(abs_err: np.ndarray, sigma: np.ndarray) -> float | None:
    """Of the files with |Δφ| > PHI_TOLERANCE, the share whose σ_φ is in the top quarter (None: no misses)."""
    missed = abs_err > PHI_TOLERANCE
    if not missed.any():
        return None
    top = sigma >= np.quantile(sigma, 0.75)
    return float(np.sum(missed & top) / np.sum(missed))
