"""XCrySDen XSF files with a ``DATAGRID_3D`` block.

XSF grids are *general* grids: N+1 points per direction, the last plane repeating the first.
Reading drops the repeated end planes to give the periodic N1×N2×N3 grid; writing adds them.
Values run with the first index fastest. Lengths are in Å.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers

from geoelf.errors import GeoelfError
from geoelf.field import Field, check_cell
from geoelf.io.common import atomic_output, check_finite, parse_floats, parse_ints, read_text


def looks_like_xsf(text: str) -> bool:
    return "DATAGRID_3D" in text[:200000].upper()


def _atom_number(token: str, path: str) -> int:
    if token in atomic_numbers:
        return atomic_numbers[token]
    try:
        z = int(token)
    except ValueError:
        raise GeoelfError(f"unknown atom {token[:10]!r} in XSF", path) from None
    if not 0 <= z <= 118:
        raise GeoelfError(f"atomic number {z} out of range in XSF", path)
    return z


def _vectors(lines: list[str], start: int, what: str, path: str) -> np.ndarray:
    """Three rows of three numbers starting at line ``start``."""
    if start + 3 > len(lines):
        raise GeoelfError(f"XSF {what} truncated", path)
    rows = [parse_floats(lines[start + k].split()[:3], what, path) for k in range(3)]
    if any(len(r) != 3 for r in rows):
        raise GeoelfError(f"XSF {what} needs three numbers per line", path)
    return np.array(rows)


def read_xsf(path: str, dataset: int = 0) -> Field:
    """Read the ``dataset``-th DATAGRID_3D of an XSF file as a periodic Field."""
    text = read_text(path)
    lines = [row.split("#")[0].strip() for row in text.splitlines()]
    lines = [row for row in lines if row]
    upper = [row.upper() for row in lines]
    primvec = None
    numbers, positions = [], []
    if "PRIMVEC" in upper:
        i = upper.index("PRIMVEC")
        primvec = _vectors(lines, i + 1, "PRIMVEC", path)
    if "PRIMCOORD" in upper:
        i = upper.index("PRIMCOORD")
        if i + 1 >= len(lines):
            raise GeoelfError("XSF PRIMCOORD truncated", path)
        nat = parse_ints(lines[i + 1].split()[:1], "PRIMCOORD atom count", path)[0]
        if nat < 0 or i + 2 + nat > len(lines):
            raise GeoelfError("XSF PRIMCOORD truncated", path)
        for row in lines[i + 2 : i + 2 + nat]:
            tokens = row.split()
            if len(tokens) < 4:
                raise GeoelfError(f"XSF atom line malformed: {row[:40]!r}", path)
            numbers.append(_atom_number(tokens[0], path))
            positions.append(parse_floats(tokens[1:4], "atom position", path))
    starts = [k for k, row in enumerate(upper) if row.startswith(("BEGIN_DATAGRID_3D", "DATAGRID_3D_"))]
    if dataset >= len(starts):
        raise GeoelfError(f"XSF has {len(starts)} DATAGRID_3D blocks, block {dataset} requested", path)
    k = starts[dataset]
    if k + 5 >= len(lines):
        raise GeoelfError("XSF DATAGRID_3D header truncated", path)
    general = parse_ints(lines[k + 1].split()[:3], "DATAGRID_3D grid size", path)
    if len(general) != 3 or min(general) < 2:
        raise GeoelfError("XSF general grid needs at least 2 points per direction", path)
    origin = parse_floats(lines[k + 2].split()[:3], "DATAGRID_3D origin", path)
    span = _vectors(lines, k + 3, "spanning vectors", path)
    check_cell(span, path)
    grid_tokens: list[str] = []
    for line in lines[k + 6 :]:
        if line.upper().startswith("END_DATAGRID"):
            break
        grid_tokens.extend(line.split())
    else:
        raise GeoelfError("XSF DATAGRID_3D block has no END_DATAGRID_3D", path)
    expected = int(np.prod(general))
    if len(grid_tokens) != expected:
        raise GeoelfError(f"XSF grid has {len(grid_tokens)} values, {expected} expected", path)
    values = parse_floats(grid_tokens, "grid values", path).reshape(general[::-1]).transpose(2, 1, 0)
    values = values[:-1, :-1, :-1]  # drop the repeated end planes: periodic grid
    check_finite(values, path)
    if primvec is not None and not np.allclose(primvec, span, atol=1e-4):
        raise GeoelfError("XSF data grid does not span the primitive cell (sub-cell grids are not periodic)", path)
    atoms = Atoms(numbers=numbers, positions=np.reshape(positions, (-1, 3)) - origin, cell=span, pbc=True)
    return Field(values, atoms, meta={"source": str(path), "format": "xsf"})


def write_xsf(field: Field, path: str) -> None:
    """Write a Field as an XSF crystal with one general DATAGRID_3D (end planes repeated)."""
    out = ["CRYSTAL", "PRIMVEC"]
    out += ["  " + " ".join(f"{x:16.10f}" for x in row) for row in field.cell]
    out += ["PRIMCOORD", f"  {len(field.atoms)} 1"]
    out += [
        f"  {z:3d} " + " ".join(f"{x:16.10f}" for x in p) for z, p in zip(field.atoms.numbers, field.atoms.positions)
    ]
    out += ["BEGIN_BLOCK_DATAGRID_3D", f"  geoelf_{field.name}", f"  BEGIN_DATAGRID_3D_{field.name}"]
    out.append("  " + " ".join(str(n + 1) for n in field.shape))
    out.append("  0.0 0.0 0.0")
    out += ["  " + " ".join(f"{x:16.10f}" for x in row) for row in field.cell]
    full = np.pad(field.data, [(0, 1)] * 3, mode="wrap")
    flat = full.transpose(2, 1, 0).ravel()
    body = [" ".join(f"{x:.10E}" for x in flat[i : i + 6]) for i in range(0, flat.size, 6)]
    with atomic_output(path) as handle:
        handle.write("\n".join(out) + "\n")
        handle.write("\n".join(body) + "\n")
        handle.write("  END_DATAGRID_3D\nEND_BLOCK_DATAGRID_3D\n")
