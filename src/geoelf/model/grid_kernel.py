"""Fused probe aggregation on a periodic grid (numba): ProbeNet's probe messages without pair lists.

For every atom, the grid points within the probe cutoff are visited directly (a box in grid
indices that covers the cutoff sphere, any triclinic cell, periodic images included) and the
atom's contributions are added to those points' scalar and vector channels. This computes
exactly the same sums as ``ProbeNet.probe_logits`` (tested) at a fraction of the cost and
memory, and only for a slab of grid planes at a time so big grids stay within memory.
"""

from __future__ import annotations

import math

import numba
import numpy as np


def fractional_reach(cell: np.ndarray, rc: float) -> np.ndarray:
    """(3,) extent of a sphere of radius ``rc`` Å in each fractional coordinate: rc·|b_i| (b_i reciprocal, no 2π)."""
    return rc * np.linalg.norm(np.linalg.inv(cell).T, axis=1)


@numba.njit(cache=True, inline="always")
def box(f: float, reach: float, n: int) -> range:
    """Grid indices along one axis (unwrapped, may pass the cell edge) within ``reach`` of fractional ``f``."""
    return range(int(math.floor((f - reach) * n)), int(math.ceil((f + reach) * n)) + 1)


@numba.njit(cache=True, inline="always")
def cartesian(d0: float, d1: float, d2: float, cell: np.ndarray) -> tuple[float, float, float]:
    """A fractional displacement as a Cartesian one (Å); rows of ``cell`` are the lattice vectors."""
    return (d0 * cell[0, 0] + d1 * cell[1, 0] + d2 * cell[2, 0], d0 * cell[0, 1] + d1 * cell[1, 1] + d2 * cell[2, 1],
            d0 * cell[0, 2] + d1 * cell[1, 2] + d2 * cell[2, 2])


@numba.njit(cache=True, fastmath=True)
def _accumulate(i0: int, i1: int, shape: np.ndarray, cell: np.ndarray, frac_atoms: np.ndarray, reach: np.ndarray,
                us: np.ndarray, uv: np.ndarray, ut: np.ndarray, centres: np.ndarray, width: float, rc: float,
                s: np.ndarray, v: np.ndarray, t: np.ndarray) -> None:
    """Add every atom's messages to the grid points of planes i0 ≤ i < i1 (s: (P, F), v: (P, 3, V),
    t: (P, 6, T), the components xx, yy, zz, xy, xz, yz of the rank-2 channels)."""
    n0, n1, n2 = shape[0], shape[1], shape[2]
    nat, nk, nf = us.shape
    nv = uv.shape[2]
    nt = ut.shape[2]
    rbf = np.empty(nk, dtype=us.dtype)
    wv = np.empty(nv, dtype=us.dtype)
    wt = np.empty(nt, dtype=us.dtype)
    ws = np.empty(nf, dtype=us.dtype)
    rc2 = rc * rc
    step = centres[1] - centres[0] if nk > 1 else 0.0
    ratio = np.empty(nk)
    for k in range(nk):  # exp(−((μ_{k+1} − μ_0)² − (μ_k − μ_0)²)/(2w²)) with μ_k = μ_0 + k·step
        ratio[k] = math.exp(-(2 * k + 1) * step * step / (2 * width * width) - centres[0] * step / (width * width))
    for a in range(nat):
        fa0, fa1, fa2 = frac_atoms[a, 0], frac_atoms[a, 1], frac_atoms[a, 2]
        for gi in box(fa0, reach[0], n0):
            ii = gi % n0
            if ii < i0 or ii >= i1:
                continue
            d0 = gi / n0 - fa0
            for gj in box(fa1, reach[1], n1):
                jj = gj % n1
                d1 = gj / n1 - fa1
                for gk in box(fa2, reach[2], n2):
                    x, y, z = cartesian(d0, d1, gk / n2 - fa2, cell)
                    r2 = x * x + y * y + z * z
                    if r2 >= rc2:
                        continue
                    r = math.sqrt(r2)
                    env = 0.5 * (math.cos(math.pi * r / rc) + 1.0)
                    # equally spaced Gaussians: g_{k+1} = g_k · q · ratio_k, two exponentials a pair
                    t0 = (r - centres[0]) / width
                    g = math.exp(-0.5 * t0 * t0)
                    q = math.exp(r * step / (width * width))
                    for k in range(nk):
                        rbf[k] = g * env
                        g *= q * ratio[k]
                    p = ((ii - i0) * n1 + jj) * n2 + gk % n2
                    inv = 1.0 / max(r, 1e-9)
                    for f in range(nf):
                        ws[f] = 0.0
                    for c in range(nv):
                        wv[c] = 0.0
                    for c in range(nt):
                        wt[c] = 0.0
                    # local sums over the radial functions first (no aliasing with the outputs),
                    # innermost loops over contiguous channels so they vectorise
                    for k in range(nk):
                        coef = rbf[k]
                        for f in range(nf):
                            ws[f] += coef * us[a, k, f]
                        for c in range(nv):
                            wv[c] += coef * uv[a, k, c]
                        for c in range(nt):
                            wt[c] += coef * ut[a, k, c]
                    for f in range(nf):
                        s[p, f] += ws[f]
                    ux, uy, uz = x * inv, y * inv, z * inv
                    for c in range(nv):
                        v[p, 0, c] += wv[c] * ux
                        v[p, 1, c] += wv[c] * uy
                        v[p, 2, c] += wv[c] * uz
                    for c in range(nt):
                        t[p, 0, c] += wt[c] * ux * ux
                        t[p, 1, c] += wt[c] * uy * uy
                        t[p, 2, c] += wt[c] * uz * uz
                        t[p, 3, c] += wt[c] * ux * uy
                        t[p, 4, c] += wt[c] * ux * uz
                        t[p, 5, c] += wt[c] * uy * uz


@numba.njit(cache=True, parallel=True)
def _accumulate_parallel(i0, i1, shape, cell, frac_atoms, reach, us, uv, ut, centres, width, rc, s, v, t, nchunks):
    """Split planes i0..i1 into chunks handled by different threads (their outputs do not overlap)."""
    plane = shape[1] * shape[2]
    for c in numba.prange(nchunks):
        a = i0 + (i1 - i0) * c // nchunks
        b = i0 + (i1 - i0) * (c + 1) // nchunks
        if b > a:
            off = (a - i0) * plane
            _accumulate(a, b, shape, cell, frac_atoms, reach, us, uv, ut, centres, width, rc,
                        s[off : off + (b - a) * plane], v[off : off + (b - a) * plane], t[off : off + (b - a) * plane])


def grid_messages(shape: tuple[int, int, int], cell: np.ndarray, positions: np.ndarray, us: np.ndarray, uv: np.ndarray,
                  centres: np.ndarray, width: float, rc: float, planes: tuple[int, int],
                  dtype: type = np.float32, ut: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scalar (P, F), vector (P, 3, V) and rank-2 (P, 6, T) probe channels for grid planes
    ``planes`` = (i0, i1); T = 0 unless the rank-2 contributions ``ut`` (N, K, T) are given.

    ``dtype`` float32 (default, fast) or float64 (for exact comparisons with the PyTorch path).

    ``us[a, k, f]`` and ``uv[a, k, c]`` are each atom's per-radial-function contributions, i.e. the
    linear probe filters already multiplied into the atom features.
    """
    cell = np.ascontiguousarray(cell, dtype=np.float64)
    frac = np.asarray(positions, dtype=np.float64) @ np.linalg.inv(cell)
    frac -= np.floor(frac)
    reach = fractional_reach(cell, rc)
    centres = np.asarray(centres, dtype=np.float64)
    if len(centres) > 1 and not np.allclose(np.diff(centres), centres[1] - centres[0]):
        raise ValueError("the grid kernel needs equally spaced radial basis centres")
    i0, i1 = planes
    npts = (i1 - i0) * shape[1] * shape[2]
    s = np.zeros((npts, us.shape[2]), dtype=dtype)
    v = np.zeros((npts, 3, uv.shape[2]), dtype=dtype)
    ut = np.zeros((us.shape[0], us.shape[1], 0)) if ut is None else ut
    t = np.zeros((npts, 6, ut.shape[2]), dtype=dtype)
    _accumulate_parallel(i0, i1, np.array(shape, dtype=np.int64), cell, np.ascontiguousarray(frac), reach,
                         np.ascontiguousarray(us, dtype=dtype), np.ascontiguousarray(uv, dtype=dtype),
                         np.ascontiguousarray(ut, dtype=dtype), np.asarray(centres, dtype=np.float64), float(width),
                         float(rc), s, v, t, max(1, min(i1 - i0, 4 * numba.get_num_threads())))
    return s, v, t
