"""geoelf's native format: a NumPy .npz archive (lossless, no pickle).

Keys: ``format`` ("geoelf-field/1"), ``data`` (N1, N2, N3), ``cell`` (3, 3) Å, ``positions``
(N, 3) Å, ``numbers`` (N,), ``name``.
"""

from __future__ import annotations

import io
import zipfile
import zlib

import numpy as np
from ase import Atoms

from geoelf.errors import GeoelfError
from geoelf.field import Field, check_cell
from geoelf.io.common import atomic_output, check_finite, read_bytes

FORMAT = "geoelf-field/1"


def read_npz(path: str) -> Field:
    raw = read_bytes(path)
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            if str(npz.get("format", "")) != FORMAT:
                raise GeoelfError(f"not a {FORMAT} archive", path)
            data, cell = npz["data"], npz["cell"]
            positions, numbers, name = npz["positions"], npz["numbers"], str(npz["name"])
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise GeoelfError(f"corrupt .npz archive ({exc.__class__.__name__})", path) from None
    if data.ndim != 3 or cell.shape != (3, 3) or positions.ndim != 2 or len(positions) != len(numbers):
        raise GeoelfError("npz arrays have the wrong shapes", path)
    check_cell(cell, path)
    check_finite(data, path)
    atoms = Atoms(numbers=numbers, positions=positions, cell=cell, pbc=True)
    return Field(data, atoms, name=name, meta={"source": str(path), "format": "npz"})


def write_npz(field: Field, path: str) -> None:
    with atomic_output(path, "wb") as handle:
        np.savez_compressed(
            handle,
            format=FORMAT,
            data=field.data,
            cell=field.cell,
            positions=field.atoms.positions,
            numbers=field.atoms.numbers,
            name=field.name,
        )
