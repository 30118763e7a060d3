"""Periodic trilinear and tricubic interpolation: exactness, periodicity, derivatives."""

from __future__ import annotations

import numpy as np
from ase import Atoms

from conftest import grid_frac
from geoelf.field import Field
from geoelf.interp import Interpolator


def plane_wave_field(shape=(16, 18, 20)):
    cell = np.array([[3.0, 0.0, 0.0], [0.9, 2.8, 0.0], [0.3, 0.6, 3.3]])
    g = grid_frac(shape)
    data = np.cos(2 * np.pi * (g[..., 0] + 2 * g[..., 1] - g[..., 2]))
    return Field(data, Atoms("H", positions=[[0, 0, 0]], cell=cell, pbc=True))


def test_interpolants_reproduce_grid_values_and_are_periodic():
    f = plane_wave_field()
    idx = np.array([[0, 0, 0], [3, 5, 7], [15, 17, 19]])
    frac = idx / np.array(f.shape)
    for order in (1, 3):
        interp = Interpolator(f, order)
        np.testing.assert_allclose(interp.value(frac), f.data[tuple(idx.T)], atol=1e-12)
        np.testing.assert_allclose(interp.value(frac + [1, -2, 3]), interp.value(frac), atol=1e-12)


def test_tricubic_is_accurate_for_smooth_fields():
    f = plane_wave_field((32, 32, 32))
    rng = np.random.default_rng(1)
    p = rng.random((50, 3))
    exact = np.cos(2 * np.pi * (p[:, 0] + 2 * p[:, 1] - p[:, 2]))
    assert np.max(np.abs(Interpolator(f, 3).value(p) - exact)) < 2e-3
    assert np.max(np.abs(Interpolator(f, 1).value(p) - exact)) < 6e-2


def test_gradient_and_hessian_match_finite_differences():
    f = plane_wave_field()
    interp = Interpolator(f, 3)
    x = np.random.default_rng(2).random((5, 3)) @ f.cell
    inv = np.linalg.inv(f.cell)
    eps = 1e-5
    num_g = np.stack([(interp.value((x + eps * e) @ inv) - interp.value((x - eps * e) @ inv)) / (2 * eps) for e in np.eye(3)], 1)
    np.testing.assert_allclose(interp.gradient(x @ inv), num_g, atol=1e-6)
    num_h = np.stack([(interp.gradient((x + eps * e) @ inv) - interp.gradient((x - eps * e) @ inv)) / (2 * eps) for e in np.eye(3)], 1)
    np.testing.assert_allclose(interp.hessian(x @ inv), num_h, atol=1e-5)


def test_trilinear_gradient_is_exact_for_a_linear_patch():
    shape = (4, 4, 4)
    g = grid_frac(shape)
    data = 1.0 + 0.1 * g[..., 0] + 0.2 * g[..., 1] + 0.3 * g[..., 2]
    f = Field(data, Atoms("H", cell=[2.0, 2.0, 2.0], pbc=True))
    interp = Interpolator(f, 1)
    p = np.array([[0.3, 0.4, 0.6]])  # inside the cell, away from the wrap-around
    np.testing.assert_allclose(interp.value(p), 1 + 0.03 + 0.08 + 0.18)
    np.testing.assert_allclose(interp.gradient(p), [[0.05, 0.1, 0.15]])
