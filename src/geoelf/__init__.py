"""geoelf: ELF of dense hydrogen — file formats, topology, DFT data and a geometry-based network.

Imports are lazy so that ``geoelf --help`` and ``import geoelf`` stay fast.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.2.0"

_LAZY = {
    "Field": ("geoelf.field", "Field"),
    "GeoelfError": ("geoelf.errors", "GeoelfError"),
    "read": ("geoelf.io", "read"),
    "write": ("geoelf.io", "write"),
    "critical_points": ("geoelf.topology.critical_points", "critical_points"),
    "networking": ("geoelf.topology.network", "networking"),
    "h_network": ("geoelf.topology.network", "h_network"),
}

__all__ = ["__version__", "example", *_LAZY]


def example(name: str):
    """Path of a file shipped in ``geoelf/examples`` (works from a source tree and an installed wheel)."""
    from importlib import resources
    from pathlib import Path

    from geoelf.errors import GeoelfError

    folder = Path(str(resources.files("geoelf") / "examples"))
    path = folder / name
    if not path.is_file():
        have = ", ".join(sorted(p.name for p in folder.iterdir() if p.is_file()))
        raise GeoelfError(f"no shipped example of that name (shipped: {have})", name)
    return path


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'geoelf' has no attribute {name!r}")
