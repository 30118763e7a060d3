"""Gaussian cube files (also QE pp.x ``output_format = 6``).

Lengths are in bohr unless a voxel count is negative, which means Å. Values run with the third
index fastest. A negative atom count announces a line of dataset ids; several datasets per grid
point are stored interleaved (dataset index fastest).
"""

from __future__ import annotations

import numpy as np
from ase import Atoms

from geoelf.errors import GeoelfError
from geoelf.field import Field, check_cell
from geoelf.io.common import BOHR, atomic_output, check_finite, parse_floats, parse_ints, read_text


def looks_like_cube(text: str) -> bool:
    """True when lines 3–6 have the cube header shape (count + 3 or 4 numbers)."""
    lines = text.splitlines()[:6]
    if len(lines) < 6:
        return False
    try:
        for line in lines[2:6]:
            tokens = line.split()
            int(tokens[0])
            [float(t) for t in tokens[1:4]]
            if len(tokens) < 4:
                return False
        return True
    except (ValueError, IndexError):
        return False


def read_cube(path: str, dataset: int = 0) -> Field:
    """Read one dataset of a cube file as a Field (Å). ``meta['n_datasets']`` tells how many."""
    text = read_text(path)
    lines = text.splitlines()
    if len(lines) < 6:
        raise GeoelfError("cube file truncated in its header", path)
    head = lines[2].split()
    if len(head) < 4:
        raise GeoelfError("cube line 3 must hold the atom count and the origin", path)
    natoms_signed = parse_ints(head[:1], "cube atom count", path)[0]
    origin_raw = parse_floats(head[1:4], "cube origin", path)
    counts, axes = [], []
    for line in lines[3:6]:
        tokens = line.split()
        if len(tokens) < 4:
            raise GeoelfError("cube grid lines 4-6 must hold a count and a vector", path)
        counts.append(parse_ints(tokens[:1], "cube voxel count", path)[0])
        axes.append(parse_floats(tokens[1:4], "cube voxel vector", path))
    if any(n == 0 for n in counts):
        raise GeoelfError("cube voxel count is zero", path)
    in_angstrom = counts[0] < 0
    unit = 1.0 if in_angstrom else BOHR
    shape = tuple(abs(n) for n in counts)
    cell = np.array([abs(n) * v * unit for n, v in zip(counts, axes)])
    check_cell(cell, path)
    natoms = abs(natoms_signed)
    if len(lines) < 6 + natoms:
        raise GeoelfError(f"cube file truncated in its atom list ({natoms} atoms announced)", path)
    numbers, positions = [], []
    for line in lines[6 : 6 + natoms]:
        tokens = line.split()
        if len(tokens) < 5:
            raise GeoelfError(f"cube atom line malformed: {line.strip()[:40]!r}", path)
        z = parse_floats(tokens[:1], "atomic number", path)[0]
        if not (0 <= z <= 118 and z == int(z)):
            raise GeoelfError(f"cube atom line has atomic number {tokens[0]!r}", path)
        numbers.append(int(z))
        positions.append(parse_floats(tokens[2:5], "atom position", path) * unit)
    rest = lines[6 + natoms :]
    n_datasets = 1
    if natoms_signed < 0:
        ids = " ".join(rest).split()
        if not ids:
            raise GeoelfError("cube file truncated before its dataset ids", path)
        n_datasets = parse_ints(ids[:1], "number of datasets", path)[0]
        if n_datasets < 1:
            raise GeoelfError("cube dataset count must be positive", path)
        tokens = ids[1 + n_datasets :]
    else:
        tokens = " ".join(rest).split()
    expected = int(np.prod(shape)) * n_datasets
    if len(tokens) < expected:
        raise GeoelfError(f"cube data truncated: {len(tokens)} of {expected} values", path)
    if len(tokens) > expected:
        raise GeoelfError(f"cube data has {len(tokens) - expected} values more than the grid", path)
    if not 0 <= dataset < n_datasets:
        raise GeoelfError(f"dataset {dataset} requested, the file has {n_datasets}", path)
    values = parse_floats(tokens, "cube data", path).reshape(*shape, n_datasets)[..., dataset]
    check_finite(values, path)
    origin = origin_raw * unit
    atoms = Atoms(numbers=numbers, positions=np.reshape(positions, (-1, 3)) - origin, cell=cell, pbc=True)
    meta = {"source": str(path), "format": "cube", "n_datasets": n_datasets, "comment": lines[0].strip()}
    return Field(values, atoms, meta=meta)


def write_cube(field: Field, path: str) -> None:
    """Write a Field as a cube file in bohr, origin 0, one dataset, 6 values per line per z-row."""
    n1, n2, n3 = field.shape
    out: list[str] = [f"geoelf {field.name}", "periodic grid, value[i,j,k] at (i/N1, j/N2, k/N3)"]
    out.append(f"{len(field.atoms):5d} {0.0:12.6f} {0.0:12.6f} {0.0:12.6f}")
    for n, vec in zip(field.shape, field.cell):
        v = vec / n / BOHR
        out.append(f"{n:5d} {v[0]:12.6f} {v[1]:12.6f} {v[2]:12.6f}")
    for z, pos in zip(field.atoms.numbers, field.atoms.positions / BOHR):
        out.append(f"{z:5d} {float(z):12.6f} {pos[0]:12.6f} {pos[1]:12.6f} {pos[2]:12.6f}")
    rows = field.data.reshape(n1 * n2, n3)
    fmt = " ".join(["%13.6E"] * n3)
    body: list[str] = []
    for row in rows:
        # Gaussian writes each z-row as lines of at most 6 values.
        text = fmt % tuple(row)
        parts = text.split()
        body.extend(" ".join(parts[i : i + 6]) for i in range(0, n3, 6))
    with atomic_output(path) as handle:
        handle.write("\n".join(out) + "\n")
        handle.write("\n".join(body) + "\n")
