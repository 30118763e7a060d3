"""Periodic lattice geometry shared by the grid kernels: how far a sphere reaches in fractional
coordinates, and the (grid point, atom image) pairs within a cutoff on one grid plane of any
triclinic cell, periodic images included (cells smaller than the cutoff too)."""

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
    return (
        d0 * cell[0, 0] + d1 * cell[1, 0] + d2 * cell[2, 0],
        d0 * cell[0, 1] + d1 * cell[1, 1] + d2 * cell[2, 1],
        d0 * cell[0, 2] + d1 * cell[1, 2] + d2 * cell[2, 2],
    )


@numba.njit(cache=True, fastmath=True)
def plane_pairs(
    i: int,
    shape: np.ndarray,
    cell: np.ndarray,
    frac: np.ndarray,
    reach: np.ndarray,
    rc: float,
    intervals: int,
    like: np.ndarray,
    parities: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The (grid point, atom image) pairs within ``rc`` of grid plane i, grouped by point: start
    (n1·n2 + 1,) so point q's pairs are start[q]:start[q + 1], their atom (E,), table interval (E,)
    and geometry (E, 4): the fraction t within the interval and the unit vector r̂ from atom to
    point, in the dtype of ``like``; with ``parities``, also each pair's image parity (E,): bits
    4·(m₀ mod 2) + 2·(m₁ mod 2) + (m₂ mod 2) of the lattice translation m of the atom's image
    (for Bloch sums at k-points with half-integer components; else an empty array). Two passes
    (count, then fill) size the arrays exactly; along the third axis only the chord of each atom's
    sphere is visited (about half its bounding box). Lengths in any one unit (Å or bohr)."""
    n0, n1, n2 = shape[0], shape[1], shape[2]
    points = n1 * n2
    per_r = intervals / rc
    start = np.zeros(points + 1, dtype=np.int64)
    fill = start
    atom = np.empty(0, dtype=np.int32)
    node = np.empty(0, dtype=np.int32)
    geo = np.empty((0, 4), dtype=like.dtype)
    parity = np.empty(0, dtype=np.int8)
    c0, c1, c2 = cell[2, 0], cell[2, 1], cell[2, 2]
    cc = c0 * c0 + c1 * c1 + c2 * c2
    for sweep in range(2):
        counting = sweep == 0
        if not counting:  # counts → offsets, then room for every pair
            total = 0
            for q in range(points):
                total, start[q] = total + start[q], total
            start[points] = total
            fill = start[:points].copy()
            atom = np.empty(total, dtype=np.int32)
            node = np.empty(total, dtype=np.int32)
            geo = np.empty((total, 4), dtype=like.dtype)
            parity = np.empty(total if parities else 0, dtype=np.int8)
        for a in range(frac.shape[0]):
            fa0, fa1, fa2 = frac[a, 0], frac[a, 1], frac[a, 2]
            for gi in box(fa0, reach[0], n0):
                if gi % n0 != i:
                    continue
                d0 = gi / n0 - fa0
                for gj in box(fa1, reach[1], n1):
                    d1 = gj / n1 - fa1
                    # only the chord of the sphere along c: x(g) = p + g·c with g = gk/n2 is within rc
                    # where cc g² + 2 (p·c) g + p·p − rc² < 0 (one margin point each side for rounding)
                    p0, p1, p2 = cartesian(d0, d1, -fa2, cell)
                    pc = p0 * c0 + p1 * c1 + p2 * c2
                    disc = pc * pc - cc * (p0 * p0 + p1 * p1 + p2 * p2 - rc * rc)
                    if disc <= 0.0:
                        continue
                    root = math.sqrt(disc)
                    first = int(math.floor((-pc - root) / cc * n2)) - 1
                    last = int(math.ceil((-pc + root) / cc * n2)) + 1
                    row = (gj % n1) * n2
                    row_parity = 4 * ((gi // n0) & 1) + 2 * ((gj // n1) & 1)  # the image's translation: −⌊g/n⌋
                    wrap, image = first % n2, first // n2  # gk mod n2 and ⌊gk/n2⌋, advanced with gk (no division)
                    for gk in range(first, last + 1):
                        k, k_image = wrap, image
                        wrap += 1
                        if wrap == n2:
                            wrap, image = 0, image + 1
                        x, y, z = cartesian(d0, d1, gk / n2 - fa2, cell)
                        r2 = x * x + y * y + z * z
                        if r2 >= rc * rc:
                            continue
                        q = row + k
                        if counting:
                            start[q] += 1
                            continue
                        e = fill[q]
                        fill[q] += 1
                        r = math.sqrt(r2)
                        m = min(int(r * per_r), intervals - 1)
                        inv = 1.0 / max(r, 1e-9)
                        atom[e], node[e] = a, m
                        geo[e, 0], geo[e, 1], geo[e, 2], geo[e, 3] = r * per_r - m, x * inv, y * inv, z * inv
                        if parities:
                            parity[e] = row_parity + (k_image & 1)
    return start, atom, node, geo, parity
