"""`Field`: a periodic scalar grid together with its structure.

Grid convention (see DESIGN.md): ``data[i, j, k]`` sits at fractional coordinates
``(i/N1, j/N2, k/N3)`` — no end point — and the index order follows the lattice vectors a, b, c.
Lengths are in Å. The field is periodic in all three directions.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import TYPE_CHECKING, Any

import numpy as np

from geoelf.errors import GeoelfError

if TYPE_CHECKING:
    from ase import Atoms


@dataclass
class Field:
    """A periodic scalar field on a regular grid spanning the unit cell of ``atoms``.

    Attributes:
        data: values, shape (N1, N2, N3), float64.
        atoms: the structure; ``atoms.cell`` (Å) defines the periodic cell (any triclinic shape).
        name: free text (e.g. "ELF").
        meta: extra information carried along (source file, spin channel, ...).
    """

    data: np.ndarray
    atoms: Atoms
    name: str = "ELF"
    meta: dict[str, Any] = dc_field(default_factory=dict)

    def __post_init__(self) -> None:
        self.data = np.ascontiguousarray(self.data, dtype=np.float64)
        if self.data.ndim != 3 or min(self.data.shape) < 1:
            raise GeoelfError(f"a field needs a 3D grid, got shape {self.data.shape}")

    # -- geometry -----------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(n) for n in self.data.shape)  # type: ignore[return-value]

    @property
    def cell(self) -> np.ndarray:
        """Lattice vectors as rows, shape (3, 3), Å."""
        return np.asarray(self.atoms.cell.array, dtype=np.float64)

    @property
    def volume(self) -> float:
        """Cell volume, Å³."""
        return float(abs(np.linalg.det(self.cell)))

    @property
    def spacing(self) -> np.ndarray:
        """Grid step along each lattice vector, |a_i| / N_i, shape (3,), Å."""
        return np.linalg.norm(self.cell, axis=1) / np.array(self.shape)

    def frac_to_cart(self, frac: np.ndarray) -> np.ndarray:
        """Fractional (..., 3) → Cartesian (..., 3) Å."""
        return np.asarray(frac) @ self.cell

    def cart_to_frac(self, cart: np.ndarray) -> np.ndarray:
        """Cartesian (..., 3) Å → fractional (..., 3)."""
        return np.asarray(cart) @ np.linalg.inv(self.cell)

    def grid_frac(self) -> np.ndarray:
        """Fractional coordinates of every grid point, shape (N1, N2, N3, 3)."""
        axes = [np.arange(n) / n for n in self.shape]
        return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)

    # -- values ---------------------------------------------------------------------------------
    def interpolate(self, frac: np.ndarray, order: int = 3) -> np.ndarray:
        """Field value at fractional points (M, 3): order 1 = trilinear, 3 = tricubic B-spline."""
        from geoelf.interp import interpolator

        return interpolator(self, order).value(frac)

    def with_data(self, data: np.ndarray, name: str | None = None) -> Field:
        """A new field on the same structure with other values."""
        return Field(data, self.atoms.copy(), name or self.name, dict(self.meta))

    def validate(self, path: str | None = None, unit_interval: bool = False) -> Field:
        """Check that the field is usable: finite values, non-singular cell; optionally in [0, 1]."""
        check_cell(self.cell, path)
        if not np.all(np.isfinite(self.data)):
            raise GeoelfError("field contains NaN or infinite values", path)
        if unit_interval:
            lo, hi = float(self.data.min()), float(self.data.max())
            tol = 1e-4
            if lo < -tol or hi > 1 + tol:
                raise GeoelfError(f"ELF values outside [0, 1]: min {lo:.4g}, max {hi:.4g}", path)
        return self


def check_cell(cell: np.ndarray, path: str | None = None) -> None:
    """Raise GeoelfError if the cell (3, 3) Å is not finite or is (nearly) singular."""
    cell = np.asarray(cell, dtype=float)
    if cell.shape != (3, 3) or not np.all(np.isfinite(cell)):
        raise GeoelfError("cell is not a finite 3x3 matrix", path)
    lengths = np.linalg.norm(cell, axis=1)
    if np.any(lengths < 1e-6):
        raise GeoelfError("cell has a zero-length lattice vector", path)
    if abs(np.linalg.det(cell)) < 1e-6 * float(np.prod(lengths)):
        raise GeoelfError("cell is singular (lattice vectors are linearly dependent)", path)
