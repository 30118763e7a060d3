"""Fit a model's error model on held-out DFT frames (``geoelf calibrate``).

Three steps, all on the same held-out frames (the validation split: never the test data):

1. The σ head: the ELF head's features and the residual at ``points_per_frame`` random grid points
   of each frame, fitted by their Gaussian likelihood (``uncertainty.fit_sigma_head``), then scaled
   so that ±σ covers 68.3 % of those residuals (``point_scale``).
2. The correlation length ξ of the residual: the mean over frames of its first 1/e crossing
   (``geoelf.analysis.residuals``), which sets how the topology's draws correlate.
3. The topology's factor: σ_φ from the draws (``geoelf.topology.uncertainty``) against the actual
   |Δφ| of φ_1D, φ_2D, φ_3D and φ*, scaled so that ±σ_φ covers 68.3 % of them (``phi_scale``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import numpy as np

from geoelf.field import Field
from geoelf.model.uncertainty import COVERAGE_1SIGMA, Calibration, SigmaHead, coverage_scale, fit_sigma_head

log = logging.getLogger(__name__)
POINTS_PER_FRAME = 4000
DRAWS = 64  # field draws behind each σ_φ: its own sampling error is about 1/√(2·64) ≈ 9 %


def residual_xi(ref: Field, pred: Field) -> float:
    """Correlation length (Å) of the residual pred − ref: the first 1/e crossing of its autocorrelation."""
    from geoelf.analysis.residuals import autocorrelation, correlation_length

    r, c = autocorrelation(ref, pred.data - ref.data)
    return float(correlation_length(r, c)[0])


def calibrate(
    predictor: Any,
    refs: Iterable[tuple[str, Field, dict[str, Any]]],
    points_per_frame: int = POINTS_PER_FRAME,
    draws: int = DRAWS,
    seed: int = 0,
) -> tuple[SigmaHead, dict[str, Any]]:
    """The σ head and the calibration record (for ``uncertainty.save_calibration``) of ``predictor``
    (a loaded ``Predictor``) fitted on the reference frames ``refs`` (path, DFT field, metadata)."""
    from geoelf.topology.network import PHI_KEYS, analyse, networking
    from geoelf.topology.uncertainty import topology_sigma

    rng = np.random.default_rng(seed)
    frames = list(refs)
    features, residuals = [], []
    for path, ref, _ in frames:
        index = rng.choice(ref.data.size, size=min(points_per_frame, ref.data.size), replace=False)
        x, elf = predictor.features(ref.atoms, ref.shape, index)
        features.append(x)
        residuals.append(elf - ref.data.ravel()[np.sort(index)])
        log.info("%s: features and residuals", path)
    x, r = np.concatenate(features), np.concatenate(residuals)
    head = fit_sigma_head(x, r, seed=seed)
    predictor.calibration = Calibration(head, 1.0, 1.0, float("nan"), draws, {})
    point_scale = coverage_scale(np.abs(r) / predictor.calibration.sigma(x))
    predictor.calibration.point_scale = point_scale

    # one prediction a frame gives both the residual's correlation length (all frames, first) and the
    # σ field behind the topology's draws
    predictions = [predictor.grid(ref.atoms, ref.shape, source=path, uncertainty=True) for path, ref, _ in frames]
    predictor.calibration.xi_A = float(np.nanmean([residual_xi(f[1], p.field) for f, p in zip(frames, predictions)]))
    ratios, files = [], []
    for (path, ref, meta), pred in zip(frames, predictions):
        assert pred.sigma is not None
        an = analyse(pred.field)
        # the unscaled σ of each φ, as a prediction computes it (None where fewer than two draws reach φ)
        spread = topology_sigma(an, pred.sigma, predictor.calibration.xi_A, draws, 1.0, seed)
        phi_pred, phi_ref = networking(pred.field, an), networking(ref, analyse(ref))
        for key in PHI_KEYS:
            if phi_pred[key] is not None and phi_ref[key] is not None and (sigma := spread[f"{key}_sigma"]):
                ratios.append(abs(phi_pred[key] - phi_ref[key]) / sigma)
        files.append({"path": path, "pressure_gpa": meta.get("pressure_gpa")})
        log.info("%s: topology draws", path)
    record = {
        "point_scale": point_scale,
        "phi_scale": coverage_scale(np.array(ratios)),
        "xi_A": predictor.calibration.xi_A,
        "samples": draws,
        "fitted_on": {
            "frames": len(frames),
            "points": int(len(r)),
            "phi_values": len(ratios),
            "coverage_target": COVERAGE_1SIGMA,
            "files": files,
        },
    }
    return head, record
