"""Reading and writing volumetric files; the format comes from the name, else from the content.

Formats: ``cube`` (Gaussian cube, QE pp.x), ``vasp`` (ELFCAR, CHGCAR, CHG, PARCHG), ``xsf``
(XCrySDen DATAGRID_3D), ``npz`` (native) and ``sample`` (a dataset sample, .h5; read only). Names ending in
``.gz`` are (de)compressed.
"""

from __future__ import annotations

import zlib

from geoelf.errors import GeoelfError
from geoelf.field import Field
from geoelf.io.common import base_name, fix_qe_elf, read_bytes

FORMATS = ("cube", "vasp", "xsf", "npz", "sample")


def format_from_name(path: str) -> str | None:
    name = base_name(path)
    if name.endswith((".cube", ".cub")):
        return "cube"
    if name.endswith(".xsf"):
        return "xsf"
    if name.endswith(".npz"):
        return "npz"
    if name.endswith((".h5", ".hdf5")):
        return "sample"
    if (
        name.endswith(".vasp")
        or any(k in name for k in ("elfcar", "chgcar", "parchg", "aeccar", "locpot"))
        or name == "chg"
    ):
        return "vasp"
    return None


def detect_format(path: str) -> str:
    """Format by name, else by content."""
    fmt = format_from_name(path)
    if fmt:
        return fmt
    from geoelf.io.cube import looks_like_cube
    from geoelf.io.vasp import looks_like_vasp
    from geoelf.io.xsf import looks_like_xsf

    raw = read_bytes(path)
    if raw[:2] == b"PK":
        return "npz"
    if raw[:8] == b"\x89HDF\r\n\x1a\n":
        return "sample"
    if b"\x00" in raw[:65536]:
        raise GeoelfError("binary file of unknown format", path)
    text = raw[:400000].decode("latin-1")
    if looks_like_xsf(text):
        return "xsf"
    if looks_like_vasp(text):
        return "vasp"
    if looks_like_cube(text):
        return "cube"
    raise GeoelfError("unknown file format (expected cube, ELFCAR/CHGCAR, XSF or .npz)", path)


def read(path: str, fmt: str | None = None, fix_qe: bool = False, block: int = 0) -> Field:
    """Read a volumetric file as a Field (Å). ``block`` picks a dataset/spin block.

    ``fix_qe`` applies the QE 6.8–7.5 ELF correction ELF_ok = 1/(1 + 2^(4/3)(1/ELF − 1)).
    """
    path = str(path)
    fmt = fmt or detect_format(path)
    try:
        field = _read_format(path, fmt, block)
    except (ValueError, IndexError, KeyError, OverflowError, EOFError, zlib.error) as exc:
        # The readers name what they expect; this net keeps any miss to a one-line error.
        raise GeoelfError(f"malformed {fmt} file ({exc.__class__.__name__}: {str(exc)[:80]})", path) from None
    field.meta["format"] = fmt
    if fix_qe:
        field = field.with_data(fix_qe_elf(field.data))
        field.meta["fixed_qe_elf"] = True
    return field


def _read_format(path: str, fmt: str, block: int) -> Field:
    if fmt == "cube":
        from geoelf.io.cube import read_cube

        field = read_cube(path, dataset=block)
    elif fmt == "vasp":
        from geoelf.io.vasp import read_vasp

        field = read_vasp(path, block=block)
    elif fmt == "xsf":
        from geoelf.io.xsf import read_xsf

        field = read_xsf(path, dataset=block)
    elif fmt == "npz":
        from geoelf.io.npz import read_npz

        field = read_npz(path)
    elif fmt == "sample":
        from geoelf.data.sample import read_sample

        field = read_sample(path)[0]
    else:
        raise GeoelfError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})", path)
    return field


def read_elf(path: str, fmt: str | None = None, fix_qe: bool = False, block: int = 0) -> Field:
    """Read a file that must hold an ELF: values are checked to lie in [0, 1]."""
    field = read(path, fmt, fix_qe, block)
    return field.validate(path, unit_interval=True)


def output_format(path: str, fmt: str | None = None) -> str:
    """The format a Field would be written in to ``path``; GeoelfError if the name tells none."""
    fmt = fmt or format_from_name(str(path))
    if fmt not in ("cube", "vasp", "xsf", "npz"):
        raise GeoelfError(
            "cannot tell the output format from the name (use .cube, .xsf, .npz or ELFCAR/CHGCAR)", str(path)
        )
    return fmt


def writable_format(path: str, fmt: str | None = None) -> str:
    """``output_format``, and the output's folder must exist: the checks a command makes before any work."""
    from pathlib import Path

    fmt = output_format(path, fmt)
    if not Path(path).resolve().parent.is_dir():
        raise GeoelfError("the output's folder does not exist", str(path))
    return fmt


def write(field: Field, path: str, fmt: str | None = None) -> None:
    """Write a Field; the format comes from the name unless given."""
    path = str(path)
    fmt = output_format(path, fmt)
    if fmt == "cube":
        from geoelf.io.cube import write_cube as writer
    elif fmt == "vasp":
        from geoelf.io.vasp import write_vasp as writer
    elif fmt == "xsf":
        from geoelf.io.xsf import write_xsf as writer
    else:
        from geoelf.io.npz import write_npz as writer
    writer(field, path)
