"""Periodic interpolation of a Field: trilinear and tricubic (cubic B-spline), with derivatives.

The tricubic interpolant is the periodic cubic B-spline through the grid values: C² continuous,
so its gradient and Hessian are continuous and Newton's method on it is well behaved. It is the
field on which critical points are defined. Coordinates inside the kernels are grid units
u = frac · N; derivatives are converted to Cartesian (Å⁻¹, Å⁻²) with the cell.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numba
import numpy as np
from scipy import ndimage

if TYPE_CHECKING:  # field.py imports this module for Field.interpolate
    from geoelf.field import Field


def spline_coefficients(data: np.ndarray) -> np.ndarray:
    """B-spline coefficients of the periodic interpolant of ``data`` (N1, N2, N3)."""
    return ndimage.spline_filter(np.asarray(data, dtype=np.float64), order=3, mode="grid-wrap")


@numba.njit(cache=True, inline="always")
def _bweights(t: float, out: np.ndarray, d1: np.ndarray, d2: np.ndarray) -> None:
    """Cubic B-spline weights for offsets -1..2 at fraction t, with first and second derivatives."""
    s = 1.0 - t
    out[0] = s * s * s / 6.0
    out[1] = (3.0 * t * t * t - 6.0 * t * t + 4.0) / 6.0
    out[2] = (-3.0 * t * t * t + 3.0 * t * t + 3.0 * t + 1.0) / 6.0
    out[3] = t * t * t / 6.0
    d1[0] = -0.5 * s * s
    d1[1] = 1.5 * t * t - 2.0 * t
    d1[2] = -1.5 * t * t + t + 0.5
    d1[3] = 0.5 * t * t
    d2[0] = s
    d2[1] = 3.0 * t - 2.0
    d2[2] = -3.0 * t + 1.0
    d2[3] = t


@numba.njit(cache=True)
def spline_eval(coef: np.ndarray, u: np.ndarray, val: np.ndarray, grad: np.ndarray, hess: np.ndarray) -> None:
    """Value, gradient (M, 3) and Hessian (M, 3, 3) in grid units at points u (M, 3)."""
    n0, n1, n2 = coef.shape
    w = np.empty((3, 4))
    d = np.empty((3, 4))
    dd = np.empty((3, 4))
    for m in range(u.shape[0]):
        base = np.empty(3, dtype=np.int64)
        for a in range(3):
            f = np.floor(u[m, a])
            base[a] = np.int64(f) - 1
            _bweights(u[m, a] - f, w[a], d[a], dd[a])
        v = 0.0
        g0 = g1 = g2 = 0.0
        h00 = h11 = h22 = h01 = h02 = h12 = 0.0
        for i in range(4):
            ii = (base[0] + i) % n0
            for j in range(4):
                jj = (base[1] + j) % n1
                for k in range(4):
                    c = coef[ii, jj, (base[2] + k) % n2]
                    v += c * w[0, i] * w[1, j] * w[2, k]
                    g0 += c * d[0, i] * w[1, j] * w[2, k]
                    g1 += c * w[0, i] * d[1, j] * w[2, k]
                    g2 += c * w[0, i] * w[1, j] * d[2, k]
                    h00 += c * dd[0, i] * w[1, j] * w[2, k]
                    h11 += c * w[0, i] * dd[1, j] * w[2, k]
                    h22 += c * w[0, i] * w[1, j] * dd[2, k]
                    h01 += c * d[0, i] * d[1, j] * w[2, k]
                    h02 += c * d[0, i] * w[1, j] * d[2, k]
                    h12 += c * w[0, i] * d[1, j] * d[2, k]
        val[m] = v
        grad[m, 0] = g0
        grad[m, 1] = g1
        grad[m, 2] = g2
        hess[m, 0, 0] = h00
        hess[m, 1, 1] = h11
        hess[m, 2, 2] = h22
        hess[m, 0, 1] = hess[m, 1, 0] = h01
        hess[m, 0, 2] = hess[m, 2, 0] = h02
        hess[m, 1, 2] = hess[m, 2, 1] = h12


@numba.njit(cache=True)
def trilinear_eval(data: np.ndarray, u: np.ndarray, val: np.ndarray, grad: np.ndarray) -> None:
    """Trilinear value and gradient (grid units) at points u (M, 3)."""
    n0, n1, n2 = data.shape
    for m in range(u.shape[0]):
        f0, f1, f2 = np.floor(u[m, 0]), np.floor(u[m, 1]), np.floor(u[m, 2])
        t0, t1, t2 = u[m, 0] - f0, u[m, 1] - f1, u[m, 2] - f2
        i0, j0, k0 = np.int64(f0) % n0, np.int64(f1) % n1, np.int64(f2) % n2
        i1, j1, k1 = (i0 + 1) % n0, (j0 + 1) % n1, (k0 + 1) % n2
        c = np.empty((2, 2, 2))
        c[0, 0, 0] = data[i0, j0, k0]
        c[1, 0, 0] = data[i1, j0, k0]
        c[0, 1, 0] = data[i0, j1, k0]
        c[0, 0, 1] = data[i0, j0, k1]
        c[1, 1, 0] = data[i1, j1, k0]
        c[1, 0, 1] = data[i1, j0, k1]
        c[0, 1, 1] = data[i0, j1, k1]
        c[1, 1, 1] = data[i1, j1, k1]
        wa = (1.0 - t0, t0)
        wb = (1.0 - t1, t1)
        wc = (1.0 - t2, t2)
        da = (-1.0, 1.0)
        v = g0 = g1 = g2 = 0.0
        for i in range(2):
            for j in range(2):
                for k in range(2):
                    v += c[i, j, k] * wa[i] * wb[j] * wc[k]
                    g0 += c[i, j, k] * da[i] * wb[j] * wc[k]
                    g1 += c[i, j, k] * wa[i] * da[j] * wc[k]
                    g2 += c[i, j, k] * wa[i] * wb[j] * da[k]
        val[m] = v
        grad[m, 0] = g0
        grad[m, 1] = g1
        grad[m, 2] = g2


class Interpolator:
    """Periodic interpolant of a field; points are fractional coordinates (M, 3).

    ``order=3``: cubic B-spline (value, gradient, Hessian); ``order=1``: trilinear (value, gradient).
    Gradients are in Å⁻¹ (field units per Å), Hessians in Å⁻², Cartesian axes.
    """

    def __init__(self, field: Field, order: int = 3) -> None:
        if order not in (1, 3):
            raise ValueError("order must be 1 (trilinear) or 3 (tricubic)")
        self.order = order
        self.shape = np.array(field.shape, dtype=float)
        self.cell = field.cell
        self.table = spline_coefficients(field.data) if order == 3 else field.data
        # du/dx: u_i = N_i (x · inv(cell))_i  →  J[j, i] = inv(cell)[j, i] N_i
        self.jac = np.linalg.inv(self.cell) * self.shape[None, :]

    def _grid_units(self, frac: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(np.atleast_2d(np.asarray(frac, dtype=np.float64)) * self.shape)

    def evaluate_u(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Value (M,), gradient (M, 3) and Hessian (M, 3, 3) in grid units at u (M, 3)."""
        u = np.ascontiguousarray(u, dtype=np.float64)
        m = u.shape[0]
        val, grad = np.empty(m), np.empty((m, 3))
        if self.order == 3:
            hess = np.empty((m, 3, 3))
            spline_eval(self.table, u, val, grad, hess)
            return val, grad, hess
        trilinear_eval(self.table, u, val, grad)
        return val, grad, None

    def value(self, frac: np.ndarray) -> np.ndarray:
        return self.evaluate_u(self._grid_units(frac))[0]

    def gradient(self, frac: np.ndarray) -> np.ndarray:
        """Cartesian gradient (M, 3), Å⁻¹."""
        _, g, _ = self.evaluate_u(self._grid_units(frac))
        return g @ self.jac.T

    def hessian(self, frac: np.ndarray) -> np.ndarray:
        """Cartesian Hessian (M, 3, 3), Å⁻² (tricubic only)."""
        if self.order != 3:
            raise ValueError("the trilinear interpolant has no Hessian")
        _, _, h = self.evaluate_u(self._grid_units(frac))
        assert h is not None  # order 3
        return np.einsum("ja,mab,kb->mjk", self.jac, h, self.jac)


def interpolator(field: Field, order: int = 3) -> Interpolator:
    """An Interpolator for ``field``."""
    return Interpolator(field, order)
