"""The grids a prediction lands on: the DFT's own FFT grid of a cell, a grid of a given spacing, or one
asked for, refused before any arithmetic when it would not fit in memory."""

from __future__ import annotations

import math

import numpy as np

from geoelf.errors import GeoelfError
from geoelf.field import check_cell
from geoelf.units import BOHR

_FFT_FACTORS = (2, 3, 5)
MAX_GRID_COUNT = 100_000  # points along one lattice vector: far beyond any memory, refused before arithmetic


def good_fft_size(n: int) -> int:
    """Smallest m ≥ n whose prime factors are 2, 3 and 5 (as QE chooses FFT grids)."""
    m = max(1, n)
    while True:
        k = m
        for p in _FFT_FACTORS:
            while k % p == 0:
                k //= p
        if k == 1:
            return m
        m += 1


def dft_grid(cell: np.ndarray, ecutwfc_ry: float = 60.0) -> tuple[int, int, int]:
    """The FFT grid pw.x uses for a cell at protocol cutoff (ecutrho = 4 ecutwfc), so predictions
    land on exactly the points of a DFT reference."""
    gmax = math.sqrt(4.0 * ecutwfc_ry)  # bohr⁻¹
    lengths = np.linalg.norm(cell, axis=1) / BOHR
    return tuple(good_fft_size(2 * int(gmax * a / (2 * math.pi)) + 1) for a in lengths)  # type: ignore[return-value]


def grid_for_spacing(cell: np.ndarray, spacing: float) -> tuple[int, int, int]:
    """Grid counts whose spacing along each lattice vector is at most ``spacing`` Å."""
    ratios = np.linalg.norm(cell, axis=1) / spacing
    if not np.all(np.isfinite(ratios)) or ratios.max() > MAX_GRID_COUNT:
        raise GeoelfError(f"--spacing {spacing:g} Å gives more than {MAX_GRID_COUNT} points along a lattice vector")
    return tuple(max(2, math.ceil(float(r))) for r in ratios)  # type: ignore[return-value]


def grid_shape(
    cell: np.ndarray,
    grid: tuple[int, int, int] | None = None,
    spacing: float | None = None,
    source: str | None = None,
    topology: bool = True,
    max_memory_gb: float | None = None,
    model_bytes: int = 0,
) -> tuple[int, int, int]:
    """The grid a prediction uses: ``grid`` if given, else the spacing's, else the DFT grid of the cell;
    refused (GeoelfError) when its estimated memory, with the model's own ``model_bytes`` for this
    structure (``Predictor.structure_bytes``), exceeds what the machine, or ``max_memory_gb``, allows."""
    from geoelf.resources import prediction_bytes, require_memory

    check_cell(cell, source)
    shape = tuple(grid) if grid else grid_for_spacing(cell, spacing) if spacing else dft_grid(cell)
    what = f"a {'×'.join(map(str, shape))} grid" + (" with the one-shot calculation" if model_bytes else "")
    grid_bytes = prediction_bytes(math.prod(shape), topology)
    advice = "use a coarser grid" if grid_bytes >= model_bytes else "use --model dense-h-v1 (no one-shot calculation)"
    require_memory(grid_bytes + model_bytes, what, source, max_memory_gb, advice)
    return shape  # type: ignore[return-value]
