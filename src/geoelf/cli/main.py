"""``geoelf`` entry point.

Every subcommand module defines ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``.
Errors a user can cause print one line ``geoelf: error: PATH: problem`` and exit with status 2;
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import NoReturn

COMMANDS = {
    "info": "geoelf.cli.info",
    "convert": "geoelf.cli.convert",
    "topology": "geoelf.cli.topology",
    "network": "geoelf.cli.network",
    "plot": "geoelf.cli.plot",
    "predict": "geoelf.cli.predict",
    "models": "geoelf.cli.models",
    "train": "geoelf.cli.train",
    "evaluate": "geoelf.cli.evaluate",
    "calibrate": "geoelf.cli.calibrate",
    "residuals": "geoelf.cli.residuals",
    "screen": "geoelf.cli.screen",
    "dft": "geoelf.cli.dft",
    "dataset": "geoelf.cli.dataset",
}

_HELP = {
    "info": "structure, grid, value range and spacing of a volumetric file",
    "convert": "convert between cube, ELFCAR/CHGCAR, XSF and .npz",
    "topology": "critical points of an ELF (maxima, bond, ring, cage points; Morse sum)",
    "network": "networking value φ (1D/2D/3D), molecularity index φ* and the H network",
    "plot": "ELF slice through a lattice plane or three atoms, and the ELF histogram (PNG)",
    "predict": "ELF of structures (every frame) from a trained model, on the DFT grid or any grid",
    "models": "the shipped models: what each reads, its training data and domain, error model, hashes",
    "evaluate": "accuracy and topology agreement of a model (or baseline) against DFT ELF files",
    "calibrate": "fit a model's error model (σ of the ELF and of φ) on held-out DFT frames",
    "residuals": "residual of a prediction in real and reciprocal space, by pressure",
    "screen": "network descriptors of many frames with the model, on Dask (resumable)",
    "train": "train the ELF network from a YAML config (flags override)",
    "dft": "Quantum ESPRESSO: ELF labels, MD sampling and relaxation of hydrogen",
    "dataset": "HDF5 datasets of structures + ELF: build, info, split, export",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2
        self.exit(2, f"geoelf: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    from geoelf import __version__

    parser = _Parser(prog="geoelf", description="ELF of dense hydrogen: formats, topology, DFT data, network.")
    parser.add_argument("--version", action="version", version=f"geoelf {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        p = sub.add_parser(name, help=_HELP[name], description=_HELP[name])
        p.set_defaults(_module=COMMANDS[name])
        _module(name).add_arguments(p)
    return parser


def _module(name: str):
    return importlib.import_module(COMMANDS[name])


def main(argv: list[str] | None = None) -> int:
    import os

    from geoelf.resources import THREAD_ENVIRONMENT

    for key, value in THREAD_ENVIRONMENT.items():  # before torch loads its OpenMP runtime
        os.environ.setdefault(key, value)
    argv = sys.argv[1:] if argv is None else argv
    # Only the chosen subcommand's module is needed for parsing its options, but argparse needs
    # every subparser; the modules keep their heavy imports inside run().
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    from geoelf.errors import GeoelfError

    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except GeoelfError as exc:
        if args.debug:
            raise
        print(f"geoelf: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("geoelf: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
