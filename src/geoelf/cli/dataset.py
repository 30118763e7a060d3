"""geoelf dataset (placeholder while being written)."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    from geoelf.errors import GeoelfError

    raise GeoelfError("not available yet")
