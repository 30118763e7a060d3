"""Exact grid percolation of superlevel sets {f ≥ t} of a periodic grid.

Voxels are switched on from the highest value down; each one is joined to its active neighbours
with a union-find whose nodes also carry their lattice cell relative to their root. Joining two
voxels already in one component with different cells closes a loop that wraps around the crystal;
its wrap vector (an integer lattice translation) enters the component's basis. A component whose
wrap vectors span k independent directions is periodic in k dimensions, so φ_kD is the value of
the voxel whose activation first raises any component's rank to k. φ* is the value at which two
H nuclei (their nearest voxels) first share a component.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

FACE = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], dtype=np.int64)
ALL26 = np.array(
    [[a, b, c] for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1) if (a, b, c) != (0, 0, 0)], dtype=np.int64
)


@dataclass
class Percolation:
    """φ_1D, φ_2D, φ_3D and φ* of a grid (NaN when never reached)."""

    phi_1d: float
    phi_2d: float
    phi_3d: float
    phi_star: float

    def as_dict(self) -> dict[str, float | None]:
        return {k: (None if np.isnan(v) else float(v)) for k, v in self.__dict__.items()}


@numba.njit(cache=True)
def _find(parent: np.ndarray, off: np.ndarray, x: int, out: np.ndarray) -> int:
    """Root of x; ``out`` gets x's cell relative to the root. Compresses the path."""
    # first pass: walk up, summing offsets
    r = x
    out[0] = 0
    out[1] = 0
    out[2] = 0
    while parent[r] != r:
        out[0] += off[r, 0]
        out[1] += off[r, 1]
        out[2] += off[r, 2]
        r = parent[r]
    # second pass: point every node on the path straight at the root with its total offset
    c0, c1, c2 = out[0], out[1], out[2]
    y = x
    while parent[y] != y:
        nxt = parent[y]
        o0, o1, o2 = off[y, 0], off[y, 1], off[y, 2]
        off[y, 0] = c0
        off[y, 1] = c1
        off[y, 2] = c2
        parent[y] = r
        c0 -= o0
        c1 -= o1
        c2 -= o2
        y = nxt
    return r


@numba.njit(cache=True)
def _add_wrap(basis: np.ndarray, rank: np.ndarray, slot: int, w0: int, w1: int, w2: int) -> None:
    """Add an integer wrap vector to a component's basis (exact integer rank test)."""
    r = rank[slot]
    if (w0 == 0 and w1 == 0 and w2 == 0) or r == 3:
        return
    if r == 0:
        basis[slot, 0, 0] = w0
        basis[slot, 0, 1] = w1
        basis[slot, 0, 2] = w2
        rank[slot] = 1
        return
    a = basis[slot, 0]
    c0 = a[1] * w2 - a[2] * w1
    c1 = a[2] * w0 - a[0] * w2
    c2 = a[0] * w1 - a[1] * w0
    if r == 1:
        if c0 != 0 or c1 != 0 or c2 != 0:
            basis[slot, 1, 0] = w0
            basis[slot, 1, 1] = w1
            basis[slot, 1, 2] = w2
            rank[slot] = 2
        return
    b = basis[slot, 1]
    det = b[0] * c0 + b[1] * c1 + b[2] * c2  # b · (a × w)
    if det != 0:
        rank[slot] = 3


@numba.njit(cache=True)
def _percolate(
    values: np.ndarray, order: np.ndarray, shape: np.ndarray, nbrs: np.ndarray, h_count: np.ndarray
) -> np.ndarray:
    n0, n1, n2 = shape[0], shape[1], shape[2]
    n = n0 * n1 * n2
    parent = np.arange(n)
    off = np.zeros((n, 3), dtype=np.int64)
    size = np.ones(n, dtype=np.int64)
    active = np.zeros(n, dtype=np.bool_)
    hc = h_count.copy()
    slot_of = -np.ones(n, dtype=np.int64)
    cap = 1024
    basis = np.zeros((cap, 2, 3), dtype=np.int64)
    rank = np.zeros(cap, dtype=np.int64)
    nslots = 0
    result = np.full(4, np.nan)  # phi_1d, phi_2d, phi_3d, phi_star
    best_rank = 0
    cv = np.zeros(3, dtype=np.int64)
    cu = np.zeros(3, dtype=np.int64)
    for v in order:
        active[v] = True
        t = values[v]
        if hc[v] >= 2 and np.isnan(result[3]):
            result[3] = t
        i = v // (n1 * n2)
        j = (v // n2) % n1
        k = v % n2
        for q in range(nbrs.shape[0]):
            ii, jj, kk = i + nbrs[q, 0], j + nbrs[q, 1], k + nbrs[q, 2]
            # lattice shift of the neighbour's image that touches voxel v
            s0 = (ii + n0) // n0 - 1
            s1 = (jj + n1) // n1 - 1
            s2 = (kk + n2) // n2 - 1
            u = ((ii - s0 * n0) * n1 + (jj - s1 * n1)) * n2 + (kk - s2 * n2)
            if not active[u]:
                continue
            rv = _find(parent, off, v, cv)
            ru = _find(parent, off, u, cu)
            # u's image touching v sits in cell cv + s (root frame of v); u itself is in cell cu
            w0, w1, w2 = cv[0] + s0 - cu[0], cv[1] + s1 - cu[1], cv[2] + s2 - cu[2]
            if rv == ru:
                if w0 == 0 and w1 == 0 and w2 == 0:
                    continue
                if slot_of[rv] < 0:
                    if nslots == cap:
                        cap *= 2
                        nb = np.zeros((cap, 2, 3), dtype=np.int64)
                        nb[:nslots] = basis[:nslots]
                        basis = nb
                        nr = np.zeros(cap, dtype=np.int64)
                        nr[:nslots] = rank[:nslots]
                        rank = nr
                    slot_of[rv] = nslots
                    nslots += 1
                _add_wrap(basis, rank, slot_of[rv], w0, w1, w2)
                root = rv
            else:
                # attach the smaller tree below the larger one
                if size[rv] < size[ru]:
                    rv, ru = ru, rv
                    w0, w1, w2 = -w0, -w1, -w2
                parent[ru] = rv
                off[ru, 0], off[ru, 1], off[ru, 2] = w0, w1, w2
                size[rv] += size[ru]
                hc[rv] += hc[ru]
                if slot_of[ru] >= 0:
                    if slot_of[rv] < 0:
                        slot_of[rv] = slot_of[ru]
                    else:
                        sr, su = slot_of[rv], slot_of[ru]
                        for m in range(rank[su]):
                            _add_wrap(basis, rank, sr, basis[su, m, 0], basis[su, m, 1], basis[su, m, 2])
                        if rank[su] == 3:
                            rank[sr] = 3
                if hc[rv] >= 2 and np.isnan(result[3]):
                    result[3] = t
                root = rv
            s = slot_of[root]
            if s >= 0:
                while best_rank < rank[s]:
                    result[best_rank] = t
                    best_rank += 1
        if best_rank == 3 and not np.isnan(result[3]):
            break
    return result


def percolate(data: np.ndarray, h_voxels: np.ndarray | None = None, connectivity: int = 6) -> Percolation:
    """φ_1D/2D/3D and φ* of a periodic grid ``data`` (N1, N2, N3).

    ``h_voxels``: flat indices of the voxels holding H nuclei (for φ*).
    ``connectivity``: 6 (face neighbours, the definition) or 26 (also edges and corners).
    """
    data = np.ascontiguousarray(data, dtype=np.float64)
    values = data.ravel()
    order = np.argsort(-values, kind="stable")
    h_count = np.zeros(values.size, dtype=np.int64)
    if h_voxels is not None and len(h_voxels):
        np.add.at(h_count, np.asarray(h_voxels, dtype=np.int64), 1)
    nbrs = FACE if connectivity == 6 else ALL26
    res = _percolate(values, order, np.array(data.shape, dtype=np.int64), nbrs, h_count)
    return Percolation(*[float(x) for x in res])


def nucleus_voxels(frac_positions: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """Flat index of the grid point nearest to each fractional position (N, 3)."""
    idx = np.mod(np.rint(np.asarray(frac_positions) * np.array(shape)).astype(np.int64), np.array(shape))
    return (idx[:, 0] * shape[1] + idx[:, 1]) * shape[2] + idx[:, 2]
