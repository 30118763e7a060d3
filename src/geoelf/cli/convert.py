"""geoelf convert IN OUT: between cube, ELFCAR/CHGCAR, XSF and .npz (.gz allowed)."""

from __future__ import annotations

import argparse

from geoelf.cli.common import add_input_options, read_field


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", metavar="IN")
    p.add_argument("output", metavar="OUT", help="format from the name: .cube, .xsf, .npz, ELFCAR, CHGCAR (+ .gz)")
    add_input_options(p)
    p.add_argument("--to", choices=["cube", "vasp", "xsf", "npz"], help="output format when the name does not tell")


def run(args: argparse.Namespace) -> int:
    from geoelf.io import write

    field = read_field(args, args.input, elf=False)
    write(field, args.output, args.to)
    print(f"{args.input} -> {args.output}  ({' × '.join(map(str, field.shape))} grid, {len(field.atoms)} atoms)")
    return 0
