"""Residuals δ = prediction − reference in real and reciprocal space.

Real space: the periodic autocorrelation C(R) = ⟨δ(x) δ(x+R)⟩ / ⟨δ²⟩ (mean removed) by FFT,
averaged over shells of |R| up to the radius of the sphere inscribed in the cell (beyond it
lattice images alias); the correlation length ξ is its first 1/e crossing (linear interpolation)
and, separately, the fit C(r) = exp(−r/ξ_fit) with its standard error.

Reciprocal space: |δ̂(k)|² with k = 2π(h b₁ + k b₂ + l b₃) (b_i rows of the inverse cell, so
triclinic cells are right), normalised so that the shells add up to the variance of δ
(Parseval). The long-wave fraction is the share of that variance at |k| < 2π/d_HH, with d_HH the
mean nearest H–H distance; R² is also reported with the long-wave part of δ removed. The DFT
ELF's own ξ and long-wave fraction are reported beside them as the yardstick.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from geoelf.field import Field


def k_vectors(field: Field) -> np.ndarray:
    """Cartesian wave vectors (N1, N2, N3, 3) of the FFT of a field, Å⁻¹ (with the 2π)."""
    recip = np.linalg.inv(field.cell).T  # rows b_i, no 2π
    ints = [np.fft.fftfreq(n) * n for n in field.shape]
    hkl = np.stack(np.meshgrid(*ints, indexing="ij"), axis=-1)
    return 2 * math.pi * hkl @ recip


def lag_vectors(field: Field) -> np.ndarray:
    """Cartesian lag (N1, N2, N3, 3) Å of each autocorrelation index, wrapped to [−½, ½) cells."""
    fr = [np.fft.fftfreq(n) for n in field.shape]  # i/N wrapped to [−½, ½)
    return np.stack(np.meshgrid(*fr, indexing="ij"), axis=-1) @ field.cell


def inscribed_radius(cell: np.ndarray) -> float:
    """Radius of the largest sphere inside the cell: half the smallest distance between lattice planes."""
    recip = np.linalg.inv(cell).T
    return 0.5 / float(np.max(np.linalg.norm(recip, axis=1)))


def spectrum(field: Field, data: np.ndarray | None = None) -> dict[str, list[float]]:
    """Power of (data − mean) in shells of |k| one reciprocal-grid step wide; sums to the variance."""
    values = field.data if data is None else data
    amp = np.fft.fftn(values - values.mean()) / values.size
    power = np.abs(amp) ** 2
    k = np.linalg.norm(k_vectors(field), axis=-1)
    dk = 2 * math.pi * float(np.min(np.linalg.norm(np.linalg.inv(field.cell).T, axis=1)))
    idx = np.rint(k / dk).astype(int)
    sums = np.bincount(idx.ravel(), weights=power.ravel())
    centres = np.arange(len(sums)) * dk
    keep = sums > 0
    return {"k": centres[keep].tolist(), "power": sums[keep].tolist()}


def autocorrelation(field: Field, data: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Shell-averaged normalised autocorrelation C(r) (C(0) = 1) for r up to the inscribed radius."""
    values = field.data if data is None else data
    d = values - values.mean()
    acf = np.fft.ifftn(np.abs(np.fft.fftn(d)) ** 2).real / d.size
    acf /= acf.flat[0] if acf.flat[0] > 0 else 1.0
    r = np.linalg.norm(lag_vectors(field), axis=-1)
    h = float(field.spacing.min())
    rmax = inscribed_radius(field.cell)
    idx = np.rint(r / h).astype(int)
    ok = r <= rmax
    sums = np.bincount(idx[ok], weights=acf[ok])
    counts = np.bincount(idx[ok])
    good = counts > 0
    return np.arange(len(sums))[good] * h, sums[good] / counts[good]


def correlation_length(r: np.ndarray, c: np.ndarray) -> tuple[float, float, float]:
    """(ξ at the first 1/e crossing, ξ from an exponential fit, its standard error), Å."""
    import warnings

    from scipy.optimize import OptimizeWarning, curve_fit

    target = 1 / math.e
    below = np.flatnonzero(c < target)
    if len(below) == 0 or below[0] == 0:
        xi = float("nan")
    else:
        i = below[0]
        xi = float(r[i - 1] + (c[i - 1] - target) * (r[i] - r[i - 1]) / (c[i - 1] - c[i]))
    # fit on the decaying part (down to C = 0.05) where an exponential is meaningful
    stop = np.flatnonzero(c < 0.05)
    n = int(stop[0]) if len(stop) else len(r)
    n = max(n, 3)
    try:
        with warnings.catch_warnings():
            # a fit through as many points as parameters has no covariance: its standard error is then
            # inf, which says so itself, rather than a warning on the console
            warnings.simplefilter("ignore", OptimizeWarning)
            popt, pcov = curve_fit(
                lambda x, ell: np.exp(-x / ell), r[:n], c[:n], p0=[xi if np.isfinite(xi) else r[1]], maxfev=2000
            )
        return xi, float(popt[0]), float(np.sqrt(pcov[0, 0]))
    except (RuntimeError, ValueError):
        return xi, float("nan"), float("nan")


def mean_nearest_hh(field: Field) -> float:
    """Mean distance (Å) from each H atom to its nearest H neighbour (periodic)."""
    from geoelf.neighbours import neighbour_pairs

    h = field.atoms[field.atoms.numbers == 1]
    if len(h) < 1:
        return float("nan")
    p, _, d = neighbour_pairs(h.positions, h.positions, h.cell.array, 4.0, exclude_self=True)
    r = np.linalg.norm(d, axis=1)
    nearest = np.full(len(h), np.inf)
    np.minimum.at(nearest, p, r)
    return float(np.mean(nearest[np.isfinite(nearest)])) if np.any(np.isfinite(nearest)) else float("nan")


def _longwave(field: Field, data: np.ndarray, k_cut: float) -> tuple[float, np.ndarray, np.ndarray]:
    """(fraction of the variance at 0 < |k| < k_cut, the FFT of data − mean, the mask of that band)."""
    amp = np.fft.fftn(data - data.mean())
    k = np.linalg.norm(k_vectors(field), axis=-1)
    power = np.abs(amp) ** 2
    low = (k < k_cut) & (k > 0)
    total = power.sum()
    return (float(power[low].sum() / total) if total > 0 else float("nan")), amp, low


def longwave_split(field: Field, delta: np.ndarray, k_cut: float) -> tuple[float, np.ndarray]:
    """Fraction of the variance of δ at 0 < |k| < k_cut, and δ with that part removed."""
    frac, amp, low = _longwave(field, delta, k_cut)
    amp[low] = 0
    return frac, np.fft.ifftn(amp).real + delta.mean()


def residual_report(ref: Field, pred: Field) -> dict[str, Any]:
    """The per-file residual analysis (keys as in `geoelf residuals --json`)."""
    delta = pred.data - ref.data
    r, c = autocorrelation(ref, delta)
    xi, xi_fit, xi_err = correlation_length(r, c)
    d_hh = mean_nearest_hh(ref)
    k_cut = 2 * math.pi / d_hh if np.isfinite(d_hh) else float("nan")
    frac, short = longwave_split(ref, delta, k_cut) if np.isfinite(k_cut) else (float("nan"), delta)
    # the same two measures of the DFT ELF itself: a residual is "long-wave" or "smooth" in a
    # meaningful sense only if it is more so than the field it is an error of
    ref_frac = _longwave(ref, ref.data, k_cut)[0] if np.isfinite(k_cut) else float("nan")  # no inverse FFT needed
    xi_ref = correlation_length(*autocorrelation(ref))[0]
    sst = float(np.sum((ref.data - ref.data.mean()) ** 2))
    return {
        "rms": float(np.sqrt(np.mean(delta**2))),
        "bias": float(delta.mean()),
        "xi": xi,
        "xi_fit": xi_fit,
        "xi_fit_err": xi_err,
        "xi_reference": xi_ref,
        "d_hh": d_hh,
        "k_cut": k_cut,
        "longwave_fraction": frac,
        "reference_longwave_fraction": ref_frac,
        "r2": 1 - float(np.sum(delta**2)) / sst,
        "r2_without_longwave": 1 - float(np.sum(short**2)) / sst,
        "spectrum": spectrum(ref, delta),
        "reference_spectrum": spectrum(ref),
        "autocorrelation": {"r": r.tolist(), "c": c.tolist()},
    }


def bootstrap_ci(values: list[float], n: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Mean and 95 % bootstrap interval of the mean over snapshots."""
    v = np.array([x for x in values if np.isfinite(x)])
    if len(v) == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), (n, len(v)))].mean(axis=1)
    return float(v.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def by_pressure(files: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per pressure bin: mean and 95 % bootstrap interval of RMS, ξ, ξ_fit, long-wave fraction, d_HH,
    the DFT ELF's own ξ and long-wave fraction, and R² with and without the long waves."""
    from geoelf.data.dataset import pressure_bin

    groups: dict[str, list[dict]] = {}
    for f in files:
        groups.setdefault(pressure_bin(f.get("pressure_gpa")), []).append(f)
    out = []
    for name, fs in sorted(
        groups.items(),
        key=lambda kv: np.nanmean([f.get("pressure_gpa") or np.nan for f in kv[1]]) if kv[0] != "unknown" else 1e9,
    ):
        row: dict[str, Any] = {
            "bin_gpa": name,
            "files": len(fs),
            "pressure_gpa": float(np.nanmean([f.get("pressure_gpa") or np.nan for f in fs]))
            if name != "unknown"
            else None,
        }
        for key in (
            "rms",
            "xi",
            "xi_fit",
            "longwave_fraction",
            "d_hh",
            "xi_reference",
            "reference_longwave_fraction",
            "r2",
            "r2_without_longwave",
        ):
            mean, lo, hi = bootstrap_ci([f[key] for f in fs])
            row[key] = {"mean": mean, "ci95": [lo, hi]}
        out.append(row)
    return out
