"""All critical points of the periodic tricubic interpolant of a field.

Method: the grid cells where the interpolant's gradient may vanish are found by Bernstein
exclusion and subdivision (``bernstein.py``: a box is dropped only when a gradient component
provably keeps one sign on it), and Newton's method is started from the centre of every surviving
box. Converged points are wrapped into the cell and deduplicated under lattice translations. Each
point is classified by the signs of its Hessian eigenvalues: (3,−3) maximum, (3,−1) bond, (3,+1)
ring, (3,+3) cage. For a periodic field the Morse sum n_max − n_bond + n_ring − n_cage is 0 when
the search is complete.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field

import numpy as np
from scipy.spatial import cKDTree

from geoelf.field import Field
from geoelf.interp import Interpolator

KINDS = ("max", "bond", "ring", "cage")  # indexed by the number of positive eigenvalues
NEAR_SEED = 1.0  # grid units: a Newton search that ends farther from its box found another box's point


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


def critical_points(
    field: Field, interp: Interpolator | None = None, dedup_tol: float = 0.05, depth: int = 2
) -> CriticalPoints:
    """All critical points of the tricubic interpolant of ``field``.

    ``depth``: subdivision levels of the candidate cells (boxes of 2^−depth cells seed Newton);
    ``dedup_tol`` is the distance (grid units) under which two converged points are one.
    """
    from geoelf.topology.bernstein import newton, seed_boxes

    interp = interp or Interpolator(field, 3)
    shape = np.array(field.shape, dtype=float)
    seeds = seed_boxes(interp.table, depth)
    u, ok = newton(interp.table, seeds)
    # keep points that converged near their box (others are found from their own box)
    near = np.all(np.abs(u - seeds) <= NEAR_SEED, axis=1)
    u = np.mod(u[ok & near], shape)
    u[u >= shape] = 0.0
    kind = _signature(interp, u)
    # Deduplicate within each type only: two nearby points of different types are a real,
    # nearly degenerate pair, and merging them would break the Morse sum by one.
    u = np.concatenate([_dedup(u[kind == k], shape, dedup_tol) for k in range(4)])
    val, _, hess = interp.evaluate_u(u)
    assert hess is not None  # a tricubic interpolator
    # Cartesian Hessian: signs are those of the grid-unit one (Sylvester), values need the metric.
    hc = np.einsum("ja,mab,kb->mjk", interp.jac, hess, interp.jac)
    evals, evecs = np.linalg.eigh(hc)
    kind = np.sum(evals > 0, axis=1)
    frac = np.mod(u / shape, 1.0)
    frac[frac > 1.0 - 1e-12] = 0.0
    order = np.lexsort((-val, kind))
    return CriticalPoints(
        frac[order],
        (frac @ field.cell)[order],
        val[order],
        evals[order],
        evecs[order],
        kind[order],
        {"subdivision_depth": depth, "seeds": len(seeds)},
    )


def _signature(interp: Interpolator, u: np.ndarray) -> np.ndarray:
    """Number of positive Hessian eigenvalues at points u (grid units): 0 max … 3 cage."""
    if len(u) == 0:
        return np.zeros(0, dtype=int)
    hess = interp.evaluate_u(u)[2]
    assert hess is not None  # a tricubic interpolator
    return np.sum(np.linalg.eigvalsh(hess) > 0, axis=1)


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
