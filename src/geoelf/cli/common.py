"""Options and output helpers shared by subcommands."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any


def _parse(text: str, cast: type, what: str) -> Any:
    try:
        return cast(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None


def positive_int(text: str) -> int:
    """argparse type: an integer ≥ 1 (a bad value becomes the parser's one-line error)."""
    value = _parse(text, int, "an integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    value = _parse(text, float, "a number")
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be a positive number")
    return value


def elf_value(text: str) -> float:
    """argparse type: an ELF isovalue in [0, 1]."""
    value = _parse(text, float, "a number")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is outside [0, 1]")
    return value


def add_input_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--format", choices=["cube", "vasp", "xsf", "npz", "sample"], help="input format (default: from name/content)"
    )
    p.add_argument("--fix-qe-elf", action="store_true", help="correct QE 6.8–7.5 ELF files (QE issue 819)")
    p.add_argument(
        "--block", type=int, default=0, help="dataset / spin block to read (default 0; ELFCAR spin down = 1)"
    )


def read_field(args: argparse.Namespace, path: str, elf: bool = True):
    """Read ``path`` with the common options; ELF files must lie in [0, 1]."""
    from geoelf.io import read, read_elf

    reader = read_elf if elf else read
    return reader(path, args.format, args.fix_qe_elf, args.block)


def _clean(obj: Any) -> Any:
    """JSON-safe: NaN/inf → null, numpy scalars → Python."""
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def print_json(doc: Any) -> None:
    json.dump(_clean(doc), sys.stdout, indent=1)
    sys.stdout.write("\n")


def fmt(x: Any, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:.{digits}f}"


def add_reference_options(p: argparse.ArgumentParser, split_help: str) -> None:
    """DFT references as files or as a dataset split (``geoelf.analysis.evaluate.references``)."""
    p.add_argument(
        "references",
        nargs="*",
        metavar="REFERENCE",
        help="DFT ELF files (cube, ELFCAR, XSF, .npz, .h5; .gz ok)",
    )
    p.add_argument(
        "--dataset",
        action="append",
        help="dataset folder (with --split); repeat it to join the splits of that name of several datasets",
    )
    p.add_argument("--split", help=split_help)
