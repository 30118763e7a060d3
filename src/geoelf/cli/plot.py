"""geoelf plot FILE: an ELF slice (lattice plane or three atoms) and the ELF histogram, as PNG."""

from __future__ import annotations

import argparse

from geoelf.cli.common import add_input_options, elf_value, positive_float, positive_int, read_field


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE")
    add_input_options(p)
    where = p.add_mutually_exclusive_group()
    where.add_argument("--plane", default="001", help="lattice plane as three digits: 001 = the a–b plane (default)")
    where.add_argument("--atoms", type=int, nargs=3, metavar="I", help="plane through three atoms (0-based indices)")
    p.add_argument(
        "--offset", type=float, default=0.0, help="fractional position of the lattice plane along its normal axis"
    )
    p.add_argument(
        "--isovalue", type=elf_value, help="draw this ELF contour, in [0, 1] (default: φ_3D by the grid method)"
    )
    p.add_argument(
        "-o",
        "--output",
        default=None,
        help="output prefix (default: FILE's name); writes PREFIX_slice.png, PREFIX_hist.png",
    )
    p.add_argument("--resolution", type=positive_int, default=300, help="pixels along the longer side of the slice")
    p.add_argument(
        "--max-memory",
        type=positive_float,
        metavar="GB",
        help="refuse a slice that would need more (default: available memory)",
    )


def run(args: argparse.Namespace) -> int:
    from geoelf.errors import GeoelfError
    from geoelf.io.common import file_stem
    from geoelf.plots import histogram_plot, slice_plot
    from geoelf.resources import PIXEL_BYTES, require_memory

    require_memory(args.resolution**2 * PIXEL_BYTES, f"a {args.resolution}-pixel slice", None, args.max_memory)
    field = read_field(args, args.file)
    stem = args.output or file_stem(args.file)
    if args.atoms is None and (len(args.plane) != 3 or sorted(args.plane) not in (["0", "0", "1"],)):
        raise GeoelfError(f"--plane must be 100, 010 or 001, got {args.plane!r}")
    iso = args.isovalue
    if iso is None:
        from geoelf.topology.percolation import percolate

        iso = percolate(field.data).phi_3d
    s = slice_plot(
        field,
        f"{stem}_slice.png",
        plane=args.plane,
        offset=args.offset,
        atoms=args.atoms,
        isovalue=iso,
        resolution=args.resolution,
    )
    h = histogram_plot(field, f"{stem}_hist.png")
    print(s)
    print(h)
    return 0
