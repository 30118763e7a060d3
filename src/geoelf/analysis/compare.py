"""Prediction against reference on the same grid: errors, distributions, topology agreement."""

from __future__ import annotations

from typing import Any

import numpy as np

from geoelf.field import Field

MATCH_DISTANCE = 0.3  # Å: a critical point of the prediction matches one of the same type within this


def error_metrics(ref: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """R² (1 − SS_res / SS_tot), MAE and RMSE of ``pred`` against ``ref`` (any shapes, same size)."""
    r, p = np.ravel(ref), np.ravel(pred)
    err = p - r
    return {
        "r2": float(1 - np.sum(err**2) / np.sum((r - r.mean()) ** 2)),
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err**2))),
    }


def metrics(ref: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """``error_metrics``, max |error| and the Wasserstein-1 distance of the value distributions."""
    from scipy.stats import wasserstein_distance

    r, p = np.ravel(ref), np.ravel(pred)
    return {**error_metrics(r, p), "max_abs": float(np.max(np.abs(p - r))), "w1": float(wasserstein_distance(r, p))}


def critical_point_sets(doc: dict) -> dict[str, np.ndarray]:
    """Cartesian positions (M, 3) of each kind of critical point in a topology document."""
    out = {}
    for kind in ("max", "bond", "ring", "cage"):
        pts = [p["cart"] for p in doc["points"] if p["kind"] == kind]
        out[kind] = np.array(pts).reshape(-1, 3)
    return out


def match_critical_points(
    ref_doc: dict, pred_doc: dict, cell: np.ndarray, tol: float = MATCH_DISTANCE
) -> dict[str, Any]:
    """One-to-one matching (closest pairs first) of same-type critical points within ``tol`` Å."""
    from geoelf.topology.graph import PeriodicNeighbours

    ref, pred = critical_point_sets(ref_doc), critical_point_sets(pred_doc)
    by_kind = {}
    for kind in ref:
        a, b = ref[kind], pred[kind]
        matched = 0
        if len(a) and len(b):
            idx, dist, _ = PeriodicNeighbours(b, cell).nearest(a)
            taken: set[int] = set()
            for i in np.argsort(dist):
                if dist[i] <= tol and idx[i] not in taken:
                    taken.add(int(idx[i]))
                    matched += 1
        by_kind[kind] = {"ref": int(len(a)), "pred": int(len(b)), "matched": matched}
    total_ref = sum(v["ref"] for v in by_kind.values())
    total_matched = sum(v["matched"] for v in by_kind.values())
    return {
        "cp_ref": total_ref,
        "cp_pred": sum(v["pred"] for v in by_kind.values()),
        "cp_matched": total_matched,
        "cp_unmatched_ref": total_ref - total_matched,
        "by_kind": by_kind,
    }


# nominal coverages at which a σ is checked: the fraction of errors within z_p·σ, z_p the Gaussian
# quantile, should be p (a reliability diagram plots the observed fraction against p)
NOMINAL = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.6827, 0.7, 0.8, 0.9, 0.9545, 0.99)


def gaussian_quantile(p: float) -> float:
    """z with P(|N(0, 1)| ≤ z) = p."""
    from scipy.special import erfinv

    return float(np.sqrt(2.0) * erfinv(p))


def coverage(errors: np.ndarray, sigma: np.ndarray) -> dict[str, Any]:
    """How well σ describes |errors|: the fractions within ±σ and ±2σ, and the observed fraction
    within z_p·σ for each nominal p of NOMINAL (same shapes, any)."""
    ratio = np.abs(np.ravel(errors)) / np.maximum(np.ravel(sigma), 1e-12)
    return {
        "within_1sigma": float(np.mean(ratio <= 1.0)),
        "within_2sigma": float(np.mean(ratio <= 2.0)),
        "curve": [float(np.mean(ratio <= gaussian_quantile(p))) for p in NOMINAL],
    }


def calibration_error(curve: list[float]) -> float:
    """Expected calibration error: the mean |observed − nominal| coverage over NOMINAL."""
    return float(np.mean(np.abs(np.array(curve) - np.array(NOMINAL))))


def compare(
    ref: Field,
    pred: Field,
    topology: bool = True,
    sigma: Field | None = None,
    error_model: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything `geoelf evaluate` reports for one file. With ``sigma`` (the prediction's σ(x)):
    its mean and coverage of the errors; with ``error_model`` as well ({xi_A, samples, phi_scale}):
    the σ of each φ of the prediction."""
    doc: dict[str, Any] = metrics(ref.data, pred.data)
    if sigma is not None:
        doc["sigma_mean"] = float(sigma.data.mean())
        doc["coverage"] = coverage(pred.data - ref.data, sigma.data)
    if topology:
        from geoelf.topology.network import analyse, networking
        from geoelf.topology.report import topology_document

        an_ref, an_pred = analyse(ref), analyse(pred)
        net_ref, net_pred = networking(ref, an_ref), networking(pred, an_pred)
        for key in ("phi_1d", "phi_2d", "phi_3d", "phi_star"):
            doc[f"{key}_ref"] = net_ref[key]
            doc[f"{key}_pred"] = net_pred[key]
        doc.update(match_critical_points(topology_document(an_ref), topology_document(an_pred), ref.cell))
        if sigma is not None and error_model is not None:
            from geoelf.topology.uncertainty import topology_sigma

            m = error_model
            doc.update(topology_sigma(an_pred, sigma, m["xi_A"], m["samples"], m["phi_scale"]))
    return doc
