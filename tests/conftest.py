"""Shared fixtures: small synthetic periodic fields with known answers, and the external files."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms

from geoelf.field import Field

sys.path.insert(0, str(Path(__file__).parent))
# The tests compare the grid path with the PyTorch path to 1e-6: a float32 head everywhere, whatever the
# CPU (the bfloat16 head has its own test in test_model.py)
os.environ["GEOELF_HEAD_PRECISION"] = "float32"

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "external" / "tcestime"


def grid_frac(shape):
    return np.stack(np.meshgrid(*[np.arange(n) / n for n in shape], indexing="ij"), axis=-1)


def cosine_field(a: float, b: float, c: float, shape=(24, 24, 24), cell=None, shift=(0, 0, 0)) -> Field:
    """f = 0.5 + (a cos 2πx + b cos 2πy + c cos 2πz) / (2(a+b+c)), with an H atom on the maximum.

    Maximum at ``shift`` (value 1); bond points half a cell away along each axis with values
    0.5 + (a+b+c − 2·amplitude)/(2(a+b+c)); so for a < b < c: φ_1D (along a) = 0.5 + (b+c−a)/(2s),
    φ_2D = 0.5 + (a+c−b)/(2s), φ_3D = 0.5 + (a+b−c)/(2s).
    """
    g = grid_frac(shape) - np.array(shift)
    s = a + b + c
    f = 0.5 + (a * np.cos(2 * np.pi * g[..., 0]) + b * np.cos(2 * np.pi * g[..., 1]) + c * np.cos(2 * np.pi * g[..., 2])) / (2 * s)
    cell = np.diag([3.0, 3.0, 3.0]) if cell is None else np.asarray(cell, float)
    atoms = Atoms("H", scaled_positions=[shift], cell=cell, pbc=True)
    return Field(f, atoms)


def gaussian_field(atoms: Atoms, shape, sigma: float = 0.35) -> Field:
    """Periodic sum of Gaussians exp(−r²/2σ²) on the atoms (values ≤ ~1 for separated atoms)."""
    frac = grid_frac(shape).reshape(-1, 3)
    cell = atoms.cell.array
    f = np.zeros(len(frac))
    for p in atoms.get_scaled_positions():
        d = frac - p
        d -= np.rint(d)
        for img in np.array([[i, j, k] for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)]):
            r2 = np.sum(((d + img) @ cell) ** 2, axis=1)
            f += np.exp(-r2 / (2 * sigma**2))
    return Field(f.reshape(shape), atoms)


def gaussian_value(atoms: Atoms, x: np.ndarray, sigma: float = 0.35) -> float:
    """The same sum of Gaussians at one Cartesian point x (Å), exactly."""
    cell = atoms.cell.array
    total = 0.0
    for p in atoms.positions:
        d = np.linalg.solve(cell.T, x - p)
        d -= np.rint(d)
        for img in np.array([[i, j, k] for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)]):
            total += np.exp(-np.sum(((d + img) @ cell) ** 2) / (2 * sigma**2))
    return float(total)


def external(name: str) -> Path:
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"external reference file {name} not available (../shared is absent)")
    return path


@pytest.fixture
def triclinic_field() -> Field:
    rng = np.random.default_rng(7)
    cell = np.array([[3.1, 0.0, 0.0], [0.8, 2.9, 0.0], [0.4, -0.5, 3.4]])
    atoms = Atoms("H3", scaled_positions=rng.random((3, 3)), cell=cell, pbc=True)
    f = gaussian_field(atoms, (14, 15, 17))
    return Field(f.data / f.data.max(), atoms)


def package_extra(name: str, net) -> dict:
    """The config blocks a test model package needs: a domain wide enough for any test structure."""
    width = net.config.features
    domain = {"rs_range": [0.5, 5.0], "min_hh": 0.0, "feature_mean": [0.0] * width, "feature_std": [1.0] * width,
              "feature_z_max": 1e6}
    return {"name": name, "version": 1, "protocol_id": "synthetic", "domain": domain}
