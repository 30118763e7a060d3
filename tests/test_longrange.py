"""Long-range channels: the reciprocal-space sum equals the real-space periodic Gaussian sum."""

from __future__ import annotations

import math

import numpy as np
import torch

from geoelf.model.longrange import at_points, half_space_indices, on_grid

CELL = np.array([[3.1, 0.0, 0.0], [0.6, 2.9, 0.0], [-0.4, 0.5, 3.3]])  # triclinic, Å


def real_space(q: np.ndarray, positions: np.ndarray, sigma: float, points: np.ndarray) -> np.ndarray:
    """(V / N) Σ_i q_i Σ_T g_σ(r − R_i − T), summed over lattice images directly."""
    n = 5
    shifts = np.stack(np.meshgrid(*[np.arange(-n, n + 1)] * 3, indexing="ij"), -1).reshape(-1, 3) @ CELL
    norm = (2 * math.pi * sigma**2) ** -1.5
    out = np.zeros(len(points))
    for qi, r in zip(q, positions):
        d = points[:, None, :] - (r + shifts)[None, :, :]
        out += qi * norm * np.exp(-0.5 * np.sum(d * d, axis=2) / sigma**2).sum(1)
    return out * abs(np.linalg.det(CELL)) / len(q)


def test_reciprocal_sum_equals_real_space_sum_in_a_triclinic_cell():
    rng = np.random.default_rng(0)
    pos = rng.random((4, 3)) @ CELL
    q = rng.normal(size=(4, 2))
    sigmas = torch.tensor([0.7, 1.3], dtype=torch.float64)
    pts = rng.random((30, 3)) @ CELL
    got = at_points(torch.as_tensor(q), torch.as_tensor(pos), CELL, sigmas, torch.as_tensor(pts)).numpy()
    for c, s in enumerate(sigmas.tolist()):
        np.testing.assert_allclose(got[:, c], real_space(q[:, c], pos, s, pts), atol=1e-5)


def test_grid_by_fft_equals_direct_sum_and_coarse_grids_fall_back():
    rng = np.random.default_rng(1)
    pos = torch.as_tensor(rng.random((5, 3)) @ CELL)
    q = torch.as_tensor(rng.normal(size=(5, 3)))
    sigmas = torch.tensor([0.8, 1.0, 2.0], dtype=torch.float64)
    for shape in [(16, 15, 18), (5, 4, 6)]:  # the second is too coarse for the FFT: direct sum
        frac = np.stack(np.meshgrid(*[np.arange(n) / n for n in shape], indexing="ij"), -1).reshape(-1, 3)
        direct = at_points(q, pos, CELL, sigmas, torch.as_tensor(frac @ CELL)).numpy().T.reshape(3, *shape)
        np.testing.assert_allclose(on_grid(q, pos, CELL, sigmas, shape), direct, atol=2e-5)  # float32 grid


def test_half_space_holds_one_of_each_pair_and_no_zero():
    m = half_space_indices(CELL, 6.0)
    keys = {tuple(v) for v in m}
    assert (0, 0, 0) not in keys and not any(tuple(-v) in keys for v in m) and len(keys) == len(m)
    g = np.linalg.norm(m @ (2 * math.pi * np.linalg.inv(CELL).T), axis=1)
    assert g.max() < 6.0 and len(m) > 50


def test_wavevector_blocks_do_not_change_the_sums(monkeypatch):
    import geoelf.model.longrange as lr

    rng = np.random.default_rng(2)
    pos, q = torch.as_tensor(rng.random((6, 3)) @ CELL), torch.as_tensor(rng.normal(size=(6, 2)))
    pts, sig = torch.as_tensor(rng.random((40, 3)) @ CELL), torch.tensor([0.9, 1.7], dtype=torch.float64)
    whole = at_points(q, pos, CELL, sig, pts)
    monkeypatch.setattr(lr, "BLOCK", 100)  # blocks of 2–16 wavevectors
    np.testing.assert_allclose(at_points(q, pos, CELL, sig, pts).numpy(), whole.numpy(), atol=1e-12)
