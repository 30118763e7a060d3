"""geoelf: ELF of dense hydrogen — file formats, topology, DFT data and a geometry-based network.

Imports are lazy so that ``geoelf --help`` and ``import geoelf`` stay fast.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "Field": ("geoelf.field", "Field"),
    "GeoelfError": ("geoelf.errors", "GeoelfError"),
    "read": ("geoelf.io", "read"),
    "write": ("geoelf.io", "write"),
    "critical_points": ("geoelf.topology.critical_points", "critical_points"),
    "networking": ("geoelf.topology.network", "networking"),
    "h_network": ("geoelf.topology.network", "h_network"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'geoelf' has no attribute {name!r}")
