"""All critical points of the periodic tricubic interpolant of a field.

Method: the gradient of the B-spline interpolant is evaluated at every grid point; every grid cell
in which each gradient component changes sign (or touches zero) over its 8 corners is a candidate,
and Newton's method is started from its centre on the interpolant. Converged points are wrapped
into the cell and deduplicated under lattice translations. Each point is classified by the signs of
its Hessian eigenvalues: (3,−3) maximum, (3,−1) bond, (3,+1) ring, (3,+3) cage. For a periodic
field the Morse sum n_max − n_bond + n_ring − n_cage is 0 when the search is complete.
"""

from __future__ import annotations

from dataclasses import dataclass, field as dc_field

import numpy as np
from scipy.spatial import cKDTree

from geoelf.field import Field
from geoelf.interp import Interpolator

KINDS = ("max", "bond", "ring", "cage")  # indexed by the number of positive eigenvalues


@dataclass
class CriticalPoints:
    """Critical points of a field. Arrays have one row per point.

    frac (M, 3) fractional in [0, 1); cart (M, 3) Å; value (M,); eigenvalues (M, 3) Å⁻²,
    ascending; kind (M,) int: 0 max, 1 bond, 2 ring, 3 cage.
    """

    frac: np.ndarray
    cart: np.ndarray
    value: np.ndarray
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    kind: np.ndarray
    extra: dict = dc_field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {name: int(np.sum(self.kind == i)) for i, name in enumerate(KINDS)}

    @property
    def morse_sum(self) -> int:
        return morse_sum(self.counts())


def morse_sum(counts: dict[str, int]) -> int:
    """n(3,−3) − n(3,−1) + n(3,+1) − n(3,+3): 0 for a complete set of critical points of a periodic field."""
    return counts["max"] - counts["bond"] + counts["ring"] - counts["cage"]


def grid_gradient(coef: np.ndarray) -> np.ndarray:
    """Gradient of the spline at every grid point, grid units, shape (3, N1, N2, N3)."""
    # At a grid node the cubic B-spline weights are (1/6, 4/6, 1/6) and the derivative
    # weights (-1/2, 0, 1/2) for offsets (-1, 0, +1).
    def smooth(a: np.ndarray, axis: int) -> np.ndarray:
        return (np.roll(a, 1, axis) + 4.0 * a + np.roll(a, -1, axis)) / 6.0

    def deriv(a: np.ndarray, axis: int) -> np.ndarray:
        return 0.5 * (np.roll(a, -1, axis) - np.roll(a, 1, axis))

    s0, s1, s2 = (smooth(coef, a) for a in range(3))
    g0 = deriv(smooth(s2, 1), 0)
    g1 = deriv(smooth(s2, 0), 1)
    g2 = deriv(smooth(s1, 0), 2)
    return np.stack([g0, g1, g2])


def candidate_cells(grad: np.ndarray) -> np.ndarray:
    """Indices (K, 3) of grid cells where every gradient component may vanish."""
    ok = None
    for comp in grad:
        lo, hi = comp.copy(), comp.copy()
        for shift in ((1, 0, 0), (0, 1, 0), (0, 0, 1)):
            # corners (i..i+1) along each axis, folded one axis at a time
            axis = int(np.argmax(shift))
            lo = np.minimum(lo, np.roll(lo, -1, axis))
            hi = np.maximum(hi, np.roll(hi, -1, axis))
        mask = (lo <= 0.0) & (hi >= 0.0)
        ok = mask if ok is None else ok & mask
    return np.argwhere(ok)


def _refine(interp: Interpolator, u0: np.ndarray, max_iter: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Newton refinement of many starting points at once; returns (u, converged).

    Convergence is judged by the Newton step (grid units), not by the size of the gradient, so
    that critical points in nearly flat regions are found as well as steep ones.
    """
    u = u0.copy()
    active = np.ones(len(u), dtype=bool)
    converged = np.zeros(len(u), dtype=bool)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        _, g, h = interp.evaluate_u(u[idx])
        evals = np.linalg.eigvalsh(h)
        scale = np.max(np.abs(evals), axis=1)
        good = np.min(np.abs(evals), axis=1) > 1e-10 * scale  # non-degenerate Hessian
        step = np.zeros_like(g)
        step[good] = np.linalg.solve(h[good], g[good][..., None])[..., 0]
        norm = np.linalg.norm(step, axis=1)
        shrink = np.minimum(1.0, 0.5 / np.maximum(norm, 1e-300))  # at most half a cell per step
        u[idx] -= step * shrink[:, None]
        done = good & (norm < 1e-9)
        converged[idx[done]] = True
        active[idx[done | ~good]] = False
    return u, converged


def refined_gradient(interp: Interpolator, refine: int) -> np.ndarray:
    """Spline gradient (grid units) on a grid ``refine`` times finer, shape (3, r·N1, r·N2, r·N3)."""
    n = [refine * k for k in interp.table.shape]
    axes = [np.arange(m) / refine for m in n]
    out = np.empty((3, *n))
    for i, x in enumerate(axes[0]):  # plane by plane keeps memory small
        pts = np.stack(np.meshgrid([x], axes[1], axes[2], indexing="ij"), -1).reshape(-1, 3)
        out[:, i] = interp.evaluate_u(pts)[1].T.reshape(3, n[1], n[2])
    return out


def critical_points(field: Field, interp: Interpolator | None = None, dedup_tol: float = 0.05, refine: int = 1) -> CriticalPoints:
    """All critical points of the tricubic interpolant of ``field``.

    ``refine`` > 1 seeds from a grid that many times finer (for fields that vary within a voxel);
    ``dedup_tol`` is the distance (grid units) under which two converged points are one.
    """
    interp = interp or Interpolator(field, 3)
    shape = np.array(field.shape, dtype=float)
    grad = grid_gradient(interp.table) if refine == 1 else refined_gradient(interp, refine)
    seeds = (candidate_cells(grad) + 0.5) / refine
    u, ok = _refine(interp, seeds)
    # keep points that converged near their seed cell (others are found from their own cell)
    near = np.all(np.abs(u - seeds) <= 1.5, axis=1)
    u = np.mod(u[ok & near], shape)
    kind = _signature(interp, u)
    # Deduplicate within each type only: two nearby points of different types are a real,
    # nearly degenerate pair, and merging them would break the Morse sum by one.
    u = np.concatenate([_dedup(u[kind == k], shape, dedup_tol) for k in range(4)])
    val, _, hess = interp.evaluate_u(u)
    # Cartesian Hessian: signs are those of the grid-unit one (Sylvester), values need the metric.
    hc = np.einsum("ja,mab,kb->mjk", interp.jac, hess, interp.jac)
    evals, evecs = np.linalg.eigh(hc)
    kind = np.sum(evals > 0, axis=1)
    frac = np.mod(u / shape, 1.0)
    frac[frac > 1.0 - 1e-12] = 0.0
    order = np.lexsort((-val, kind))
    return CriticalPoints(frac[order], (frac @ field.cell)[order], val[order], evals[order], evecs[order], kind[order])


def _signature(interp: Interpolator, u: np.ndarray) -> np.ndarray:
    """Number of positive Hessian eigenvalues at points u (grid units): 0 max … 3 cage."""
    if len(u) == 0:
        return np.zeros(0, dtype=int)
    return np.sum(np.linalg.eigvalsh(interp.evaluate_u(u)[2]) > 0, axis=1)


def _dedup(u: np.ndarray, shape: np.ndarray, tol: float) -> np.ndarray:
    """One representative per cluster of points closer than ``tol`` (periodic, grid units)."""
    if len(u) == 0:
        return u.reshape(0, 3)
    u = np.mod(u, shape)
    u[u >= shape] = 0.0
    tree = cKDTree(u, boxsize=shape)
    pairs = tree.query_pairs(tol, output_type="ndarray")
    keep = np.ones(len(u), dtype=bool)
    if len(pairs):
        # union-find-free: drop the higher index of every close pair (clusters are tiny)
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(u), len(u)))
        _, labels = connected_components(graph, directed=False)
        _, first = np.unique(labels, return_index=True)
        keep[:] = False
        keep[first] = True
    return u[keep]
