"""Long-range channels: smooth periodic fields of learned atomic charges, summed in reciprocal space.

The local ProbeNet lets a probe see atoms within ``cutoff_probe`` only. The long-range channels give
it the whole cell at low resolution (a "low-k head"): each atom carries C learned
charges q_ic = Linear(h_i), and channel c at point r is the periodic sum of Gaussians of width σ_c

    L_c(r) = (V / N) Σ_i q_ic Σ_T g_σc(r − R_i − T) = (1 / N) Σ_G S_c(G) exp(−σ_c² |G|² / 2) e^{iG·r},

with the structure factor S_c(G) = Σ_i q_ic e^{−iG·R_i} and g normalised to 1. The factor V/N makes
L a per-atom mean (its cell average is the mean charge), so it does not scale with density. Only
|G| < G_max terms enter, where the Gaussian factor exceeds ``TOLERANCE``: the cost is O(N·M + P·M)
at M wavevectors for scattered probes, and one FFT per channel on a grid.

Everything depends on G·(r − R_i) and |G| only: exactly invariant under rotations, lattice
translations and permutations, like the local part.
"""

from __future__ import annotations

import math

import numpy as np
import torch

TOLERANCE = 1e-6  # smallest Gaussian factor kept
BLOCK = 4_000_000  # entries of one (rows × wavevectors) phase block: bounds memory for big cells


def g_max(sigma_min: float) -> float:
    """Largest |G| (Å⁻¹) whose Gaussian factor exp(−σ²G²/2) is above TOLERANCE."""
    return math.sqrt(-2.0 * math.log(TOLERANCE)) / sigma_min


def half_space_indices(cell: np.ndarray, gmax: float) -> np.ndarray:
    """Integer vectors m (M, 3) with 0 < |G| < gmax, G = 2π m·B, one of each ±m pair."""
    recip = 2 * math.pi * np.linalg.inv(cell).T  # rows b_i with 2π
    n = [int(math.floor(gmax / (2 * math.pi) * np.linalg.norm(cell[i]))) + 1 for i in range(3)]
    grids = np.meshgrid(*[np.arange(-k, k + 1) for k in n], indexing="ij")
    m = np.stack([g.ravel() for g in grids], axis=1)
    g2 = np.sum((m @ recip) ** 2, axis=1)
    # the first non-zero component positive: one of each ±m pair, and m = 0 excluded
    first = np.where(m[:, 0] != 0, m[:, 0], np.where(m[:, 1] != 0, m[:, 1], m[:, 2]))
    return m[(g2 < gmax**2) & (first > 0)]


def _blocks(rows: int, m: int) -> list[slice]:
    """Wavevector blocks so that one (rows × block) phase array stays under BLOCK entries."""
    size = max(1, BLOCK // max(1, rows))
    return [slice(k, min(m, k + size)) for k in range(0, m, size)]


def structure_factor(q: torch.Tensor, positions: torch.Tensor, gvec: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Real and imaginary parts (C, M) of S_c(G) = Σ_i q_ic e^{−iG·R_i}; q (N, C), positions (N, 3), G (M, 3)."""
    re, im = [], []
    for b in _blocks(len(q), len(gvec)):
        phase = positions @ gvec[b].T  # (N, block)
        re.append(q.T @ torch.cos(phase))
        im.append(-(q.T @ torch.sin(phase)))
    if not re:
        return q.new_zeros(q.shape[1], 0), q.new_zeros(q.shape[1], 0)
    return torch.cat(re, 1), torch.cat(im, 1)


def coefficients(
    q: torch.Tensor, positions: torch.Tensor, cell: np.ndarray, sigmas: torch.Tensor
) -> tuple[np.ndarray, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(m (M, 3), G (M, 3), A_re, A_im (C, M)): L_c(r) = mean_i q_ic + 2 Σ_M Re[A e^{iG·r}]."""
    m = half_space_indices(cell, g_max(float(sigmas.min())))
    recip = torch.as_tensor(2 * math.pi * np.linalg.inv(cell).T, dtype=q.dtype, device=q.device)
    gvec = torch.as_tensor(m, dtype=q.dtype, device=q.device) @ recip
    s_re, s_im = structure_factor(q, positions.to(q.dtype), gvec)
    damp = torch.exp(-0.5 * sigmas[:, None] ** 2 * (gvec**2).sum(1)[None, :]) / len(q)
    return m, gvec, s_re * damp, s_im * damp


def at_points(
    q: torch.Tensor, positions: torch.Tensor, cell: np.ndarray, sigmas: torch.Tensor, points: torch.Tensor
) -> torch.Tensor:
    """Long-range channels (P, C) at Cartesian points (P, 3) Å for one structure."""
    _, gvec, a_re, a_im = coefficients(q, positions, cell, sigmas)
    out = q.mean(0)[None, :].expand(len(points), -1)
    for b in _blocks(len(points), len(gvec)):
        phase = points.to(q.dtype) @ gvec[b].T  # (P, block)
        out = out + 2.0 * (torch.cos(phase) @ a_re[:, b].T - torch.sin(phase) @ a_im[:, b].T)
    return out


def on_grid(
    q: torch.Tensor, positions: torch.Tensor, cell: np.ndarray, sigmas: torch.Tensor, shape: tuple[int, int, int]
) -> np.ndarray:
    """Long-range channels (C, n1, n2, n3), float32, on the periodic grid r = (j / n)·cell, by inverse FFT.

    Falls back to the direct sum when the grid is too coarse to hold every wavevector
    without aliasing (|m_i| ≥ n_i / 2).
    """
    m, _, a_re, a_im = coefficients(q, positions, cell, sigmas)
    if len(m) and np.any(2 * np.abs(m).max(0) >= np.array(shape)):
        frac = np.stack(np.meshgrid(*[np.arange(n) / n for n in shape], indexing="ij"), -1).reshape(-1, 3)
        pts = torch.as_tensor(frac @ cell, dtype=q.dtype)
        return at_points(q, positions, cell, sigmas, pts).T.reshape(-1, *shape).numpy().astype(np.float32)
    a = a_re.double().numpy() + 1j * a_im.double().numpy()
    idx = tuple((m % np.array(shape)).T)
    mean = q.mean(0).double().numpy()
    out = np.empty((q.shape[1], *shape), dtype=np.float32)
    for c in range(q.shape[1]):  # one channel at a time: a 200³ complex grid is 64 MB in single precision
        coef = np.zeros(shape, dtype=np.complex64)
        coef[idx] = a[c]
        # L = mean + 2 Re Σ_M A e^{iG·r}; numpy's ifftn carries 1/(n1 n2 n3)
        out[c] = 2.0 * np.fft.ifftn(coef).real * np.prod(shape) + mean[c]
    return out
