"""Where the gradient of a periodic cubic B-spline can vanish, and Newton's method to find it.

On each grid cell the B-spline interpolant is a tricubic polynomial. Written in the Bernstein basis
its coefficients bound it (convex hull property), and so do the coefficients of each gradient
component (their differences along that axis). A box where one gradient component's coefficients
all have one sign holds no critical point; every other box is split in eight (de Casteljau at the
middle of each axis) and tested again, down to a given depth. Each surviving box seeds one Newton
search. Unlike a test of the gradient's signs at the cell corners, the exclusion never drops a box
that holds a critical point — a pair of nearby critical points inside one cell included — so the
search is complete up to Newton's convergence.

Everything here runs compiled (numba) on grid units u = frac · N, with the coefficients from
``geoelf.interp.spline_coefficients``.
"""

from __future__ import annotations

import numba
import numpy as np

from geoelf.interp import spline_eval

# Bernstein coefficients of a uniform cubic B-spline segment from its four de Boor coefficients
_TO_BERNSTEIN = np.array([[1, 4, 1, 0], [0, 4, 2, 0], [0, 2, 4, 0], [0, 1, 4, 1]], dtype=np.float64) / 6.0
STEP_LIMIT = 0.5  # grid units: the longest Newton step (no jumping over a neighbouring critical point)
STEP_TOL = 1e-9  # grid units: converged when the Newton step is this short
DEGENERATE = 1e-12  # |det H| below this × max|H|³: a degenerate Hessian, the search stops there


@numba.njit(cache=True)
def _cell_bernstein(coef: np.ndarray, i: int, j: int, k: int, out: np.ndarray) -> None:
    """Bernstein coefficients (4, 4, 4) of the interpolant on the cell with lower corner (i, j, k)."""
    n0, n1, n2 = coef.shape
    m = _TO_BERNSTEIN
    a = np.empty((4, 4, 4))
    b = np.empty((4, 4, 4))
    for p in range(4):
        for q in range(4):
            for r in range(4):
                a[p, q, r] = coef[(i - 1 + p) % n0, (j - 1 + q) % n1, (k - 1 + r) % n2]
    for x in range(4):  # one axis at a time: out = M ⊗ M ⊗ M applied to a
        for q in range(4):
            for r in range(4):
                b[x, q, r] = m[x, 0] * a[0, q, r] + m[x, 1] * a[1, q, r] + m[x, 2] * a[2, q, r] + m[x, 3] * a[3, q, r]
    for x in range(4):
        for y in range(4):
            for r in range(4):
                a[x, y, r] = m[y, 0] * b[x, 0, r] + m[y, 1] * b[x, 1, r] + m[y, 2] * b[x, 2, r] + m[y, 3] * b[x, 3, r]
    for x in range(4):
        for y in range(4):
            for z in range(4):
                out[x, y, z] = m[z, 0] * a[x, y, 0] + m[z, 1] * a[x, y, 1] + m[z, 2] * a[x, y, 2] + m[z, 3] * a[x, y, 3]


@numba.njit(cache=True)
def _gradient_may_vanish(b: np.ndarray) -> bool:
    """False when some gradient component keeps one strict sign over the box (coefficients (4, 4, 4))."""
    for axis in range(3):
        lo, hi = np.inf, -np.inf
        for x in range(4 - (axis == 0)):
            for y in range(4 - (axis == 1)):
                for z in range(4 - (axis == 2)):
                    if axis == 0:
                        d = b[x + 1, y, z] - b[x, y, z]
                    elif axis == 1:
                        d = b[x, y + 1, z] - b[x, y, z]
                    else:
                        d = b[x, y, z + 1] - b[x, y, z]
                    lo = min(lo, d)
                    hi = max(hi, d)
        if lo > 0.0 or hi < 0.0:
            return False
    return True


@numba.njit(cache=True)
def _split(b: np.ndarray, axis: int, left: np.ndarray, right: np.ndarray) -> None:
    """de Casteljau at the middle of ``axis``: the coefficients of the two halves."""
    for p in range(4):
        for q in range(4):
            if axis == 0:
                c0, c1, c2, c3 = b[0, p, q], b[1, p, q], b[2, p, q], b[3, p, q]
            elif axis == 1:
                c0, c1, c2, c3 = b[p, 0, q], b[p, 1, q], b[p, 2, q], b[p, 3, q]
            else:
                c0, c1, c2, c3 = b[p, q, 0], b[p, q, 1], b[p, q, 2], b[p, q, 3]
            mid = (c0 + 3.0 * c1 + 3.0 * c2 + c3) / 8.0
            lv = (c0, (c0 + c1) / 2.0, (c0 + 2.0 * c1 + c2) / 4.0, mid)
            rv = (mid, (c1 + 2.0 * c2 + c3) / 4.0, (c2 + c3) / 2.0, c3)
            for t in range(4):
                if axis == 0:
                    left[t, p, q], right[t, p, q] = lv[t], rv[t]
                elif axis == 1:
                    left[p, t, q], right[p, t, q] = lv[t], rv[t]
                else:
                    left[p, q, t], right[p, q, t] = lv[t], rv[t]


@numba.njit(cache=True)
def seed_boxes(coef: np.ndarray, depth: int) -> np.ndarray:
    """Centres (S, 3), grid units, of the boxes of side 2^−depth cells that may hold a critical point."""
    n0, n1, n2 = coef.shape
    capacity = 7 * depth + 1  # a depth-first stack never holds more
    stack = np.empty((capacity, 4, 4, 4))
    origin = np.empty((capacity, 3))
    level = np.empty(capacity, dtype=np.int64)
    halves = np.empty((8, 4, 4, 4))
    tmp = np.empty((2, 4, 4, 4))
    out = np.empty((1024, 3))
    count = 0
    box = np.empty((4, 4, 4))
    for i in range(n0):
        for j in range(n1):
            for k in range(n2):
                _cell_bernstein(coef, i, j, k, box)
                if not _gradient_may_vanish(box):
                    continue
                stack[0] = box
                origin[0, 0], origin[0, 1], origin[0, 2] = i, j, k
                level[0] = 0
                top = 1
                while top > 0:
                    top -= 1
                    size = 0.5 ** level[top]
                    if level[top] == depth:
                        if count == len(out):
                            grown = np.empty((2 * len(out), 3))
                            grown[:count] = out
                            out = grown
                        for a in range(3):
                            out[count, a] = origin[top, a] + 0.5 * size
                        count += 1
                        continue
                    _split(stack[top], 0, halves[0], halves[4])
                    for h in (0, 4):
                        _split(halves[h], 1, tmp[0], tmp[1])
                        _split(tmp[0], 2, halves[h], halves[h + 1])
                        _split(tmp[1], 2, halves[h + 2], halves[h + 3])
                    base = origin[top].copy()
                    child_level = level[top] + 1
                    half = 0.5 * size
                    for c in range(8):
                        if _gradient_may_vanish(halves[c]):
                            stack[top] = halves[c]
                            origin[top, 0] = base[0] + half * (c // 4)
                            origin[top, 1] = base[1] + half * ((c // 2) % 2)
                            origin[top, 2] = base[2] + half * (c % 2)
                            level[top] = child_level
                            top += 1
    return out[:count]


@numba.njit(cache=True)
def newton(coef: np.ndarray, seeds: np.ndarray, max_iter: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Newton's method on the gradient from each seed (S, 3); returns (u (S, 3), converged (S,)).

    The 3×3 system is solved in closed form (Cramer's rule); steps are capped at STEP_LIMIT grid
    units; convergence is judged by the step (grid units), so that critical points in nearly flat
    regions are found as well as steep ones. A degenerate Hessian ends the search unconverged.
    """
    u = seeds.copy()
    ok = np.zeros(len(seeds), dtype=np.bool_)
    val = np.empty(1)
    grad = np.empty((1, 3))
    hess = np.empty((1, 3, 3))
    for s in range(len(seeds)):
        for _ in range(max_iter):
            spline_eval(coef, u[s : s + 1], val, grad, hess)
            g, h = grad[0], hess[0]
            c00 = h[1, 1] * h[2, 2] - h[1, 2] * h[2, 1]
            c01 = h[1, 2] * h[2, 0] - h[1, 0] * h[2, 2]
            c02 = h[1, 0] * h[2, 1] - h[1, 1] * h[2, 0]
            det = h[0, 0] * c00 + h[0, 1] * c01 + h[0, 2] * c02
            scale = np.max(np.abs(h))
            if abs(det) <= DEGENERATE * scale**3 or scale == 0.0:
                break
            # H⁻¹ g by the adjugate (H symmetric)
            s0 = (
                c00 * g[0]
                + (h[0, 2] * h[2, 1] - h[0, 1] * h[2, 2]) * g[1]
                + (h[0, 1] * h[1, 2] - h[0, 2] * h[1, 1]) * g[2]
            ) / det
            s1 = (
                c01 * g[0]
                + (h[0, 0] * h[2, 2] - h[0, 2] * h[2, 0]) * g[1]
                + (h[0, 2] * h[1, 0] - h[0, 0] * h[1, 2]) * g[2]
            ) / det
            s2 = (
                c02 * g[0]
                + (h[0, 1] * h[2, 0] - h[0, 0] * h[2, 1]) * g[1]
                + (h[0, 0] * h[1, 1] - h[0, 1] * h[1, 0]) * g[2]
            ) / det
            norm = np.sqrt(s0 * s0 + s1 * s1 + s2 * s2)
            shrink = min(1.0, STEP_LIMIT / max(norm, 1e-300))
            u[s, 0] -= s0 * shrink
            u[s, 1] -= s1 * shrink
            u[s, 2] -= s2 * shrink
            if norm < STEP_TOL:
                ok[s] = True
                break
    return u, ok
