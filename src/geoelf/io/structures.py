"""Reading atomic structures (every frame) with ASE, with the package's one-line errors."""

from __future__ import annotations

from ase import Atoms

from geoelf.errors import GeoelfError


def read_frames(path: str) -> list[Atoms]:
    """Every frame of a structure file (anything ASE reads) or of an ASE database (.db)."""
    from ase.io import read

    try:
        if path.endswith(".db"):
            from ase.db import connect

            return [row.toatoms() for row in connect(path).select()]
        frames = read(path, index=":")
    except FileNotFoundError:
        raise GeoelfError("no such file", path) from None
    except Exception as exc:  # ASE raises many types for unreadable files
        raise GeoelfError(f"cannot read structures ({exc.__class__.__name__}: {str(exc)[:60]})", path) from None
    return frames if isinstance(frames, list) else [frames]
