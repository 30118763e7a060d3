"""VASP volumetric files: ELFCAR, CHGCAR, CHG, PARCHG, AECCAR, LOCPOT.

A POSCAR-style header, a blank line, the grid line ``N1 N2 N3`` and the values with the first
index fastest (Fortran order). Density files store ρ·V_cell, so their values are divided by the
cell volume (Å³) to give e/Å³; ELFCAR values are used as they are. After the first block come
optional augmentation occupancies (skipped) and, for spin-polarised runs, a second block: the
spin-down ELF in an ELFCAR, the magnetisation density in a CHGCAR.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers

from geoelf.errors import GeoelfError
from geoelf.field import Field, check_cell
from geoelf.io.common import atomic_output, base_name, check_finite, parse_floats, parse_ints, read_text

DENSITY_NAMES = ("chgcar", "chg", "parchg", "aeccar", "locpot")


def is_density_name(path: str) -> bool:
    """True for CHGCAR-like names (values stored as ρ·V), False for ELFCAR and others."""
    name = base_name(path)
    return "elf" not in name and any(key in name for key in DENSITY_NAMES)


def looks_like_vasp(text: str) -> bool:
    lines = text.splitlines()[:3]
    try:
        return len(lines) == 3 and len(lines[1].split()) == 1 and float(lines[1]) != 0 and len(lines[2].split()) == 3
    except ValueError:
        return False


def _header(lines: list[str], path: str) -> tuple[Atoms, int]:
    """Parse the POSCAR part; returns atoms and the index of the first line after it."""
    if len(lines) < 8:
        raise GeoelfError("VASP file truncated in its POSCAR header", path)
    scale = parse_floats(lines[1].split()[:1], "scale factor", path)[0]
    lattice = np.array([parse_floats(lines[i].split()[:3], "lattice vector", path) for i in (2, 3, 4)])
    if lattice.shape != (3, 3):
        raise GeoelfError("VASP lattice vectors need three numbers each", path)
    if scale < 0:  # a negative scale is the cell volume
        vol = abs(np.linalg.det(lattice))
        if vol == 0:
            raise GeoelfError("cell is singular", path)
        scale = (-scale / vol) ** (1 / 3)
    cell = lattice * scale
    check_cell(cell, path)
    tokens = lines[5].split()
    if tokens and all(t.isdigit() for t in tokens):
        symbols = _symbols_from_comment(lines[0], len(tokens), path)
        counts, line = parse_ints(tokens, "atom counts", path), 6
    else:
        symbols = [t.split("/")[0].split("_")[0] for t in tokens]
        counts, line = parse_ints(lines[6].split(), "atom counts", path), 7
    if len(counts) != len(symbols) or any(c < 0 for c in counts):
        raise GeoelfError("VASP species and counts do not match", path)
    unknown = [s for s in symbols if s not in atomic_numbers]
    if unknown:
        raise GeoelfError(f"unknown element {unknown[0]!r} in the VASP header", path)
    if lines[line].strip()[:1].lower() == "s":  # Selective dynamics
        line += 1
    mode = lines[line].strip()[:1].lower()
    if mode not in ("d", "c", "k"):
        raise GeoelfError(f"expected Direct or Cartesian, got {lines[line].strip()[:20]!r}", path)
    natoms = sum(counts)
    rows = lines[line + 1 : line + 1 + natoms]
    if len(rows) < natoms:
        raise GeoelfError("VASP file truncated in its atom positions", path)
    pos = np.array([parse_floats(r.split()[:3], "atom position", path) for r in rows]).reshape(-1, 3)
    pos = pos @ cell if mode == "d" else pos * scale
    numbers = [atomic_numbers[s] for s, c in zip(symbols, counts) for _ in range(c)]
    return Atoms(numbers=numbers, positions=pos, cell=cell, pbc=True), line + 1 + natoms


def _symbols_from_comment(comment: str, n: int, path: str) -> list[str]:
    words = [w for w in comment.split() if w in atomic_numbers]
    if len(words) != n:
        raise GeoelfError("VASP 4 header without element names (put them on line 6)", path)
    return words


def read_vasp(path: str, block: int = 0, density: bool | None = None) -> Field:
    """Read block ``block`` (0 = first; 1 = spin down / magnetisation) of a VASP volumetric file."""
    text = read_text(path)
    lines = text.splitlines()
    atoms, line = _header(lines, path)
    while line < len(lines) and not lines[line].strip():
        line += 1
    if line >= len(lines):
        raise GeoelfError("VASP file has no grid", path)
    grid_line = lines[line].split()
    shape = tuple(parse_ints(grid_line, "grid line", path)) if len(grid_line) == 3 else ()
    if len(shape) != 3 or min(shape) < 1:
        raise GeoelfError(f"expected the grid line 'N1 N2 N3', got {lines[line].strip()[:30]!r}", path)
    npts = int(np.prod(shape))
    blocks: list[np.ndarray] = []
    tail: list[str] | None = "\n".join(lines[line + 1 :]).split()
    while tail is not None:
        if len(tail) < npts:
            if not blocks:
                raise GeoelfError(f"VASP grid truncated: {len(tail)} of {npts} values", path)
            break
        blocks.append(parse_floats(tail[:npts], "grid values", path))
        if len(blocks) > block:
            break
        tail = _after_next_grid_line(tail[npts:], shape)
    if block >= len(blocks):
        raise GeoelfError(f"block {block} requested, the file has {len(blocks)}", path)
    values = blocks[block].reshape(shape[::-1]).transpose(2, 1, 0)  # x fastest → [i, j, k]
    check_finite(values, path)
    density = is_density_name(path) if density is None else density
    if density:
        values = values / atoms.get_volume()
    meta = {"source": str(path), "format": "vasp", "block": block, "density": density}
    return Field(values, atoms, name="density" if density else "ELF", meta=meta)


def _after_next_grid_line(tokens: list[str], shape: tuple[int, int, int]) -> list[str] | None:
    """Skip augmentation/moment records up to the next 'N1 N2 N3'; None when there is none."""
    target = [str(n) for n in shape]
    for i in range(len(tokens) - 2):
        if tokens[i : i + 3] == target:
            return tokens[i + 3 :]
    return None


def write_vasp(field: Field, path: str, density: bool | None = None) -> None:
    """Write a VASP volumetric file (VASP 5 header, Direct coordinates, 5 values per line).

    Densities (CHGCAR-like names) are multiplied by the cell volume as VASP stores them.
    """
    density = is_density_name(path) if density is None else density
    atoms = field.atoms
    symbols = atoms.get_chemical_symbols()
    species = list(dict.fromkeys(symbols))
    order = np.concatenate([np.flatnonzero(np.array(symbols) == s) for s in species]) if symbols else np.array([], int)
    out = [f"geoelf {field.name}", "   1.00000000000000"]
    out += ["  " + " ".join(f"{x:21.14f}" for x in row) for row in field.cell]
    out.append("   " + "   ".join(species))
    out.append("   " + "   ".join(str(symbols.count(s)) for s in species))
    out.append("Direct")
    frac = atoms.get_scaled_positions(wrap=False)[order] if len(atoms) else np.zeros((0, 3))
    out += [" " + " ".join(f"{x:19.16f}" for x in p) for p in frac]
    out.append("")
    out.append(" " + " ".join(f"{n:4d}" for n in field.shape))
    values = field.data * (atoms.get_volume() if density else 1.0)
    flat = values.transpose(2, 1, 0).ravel()
    body = [" ".join(f"{x:18.11E}" for x in flat[i : i + 5]) for i in range(0, flat.size, 5)]
    with atomic_output(path) as handle:
        handle.write("\n".join(out) + "\n")
        handle.write("\n".join(body) + "\n")
