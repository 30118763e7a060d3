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

            # add_additional_information puts the row's key-value pairs (pressure_gpa, labels)
            # into info["key_value_pairs"]; lift them to info where the rest of geoelf looks
            frames = []
            for row in connect(path).select():
                atoms = row.toatoms()
                atoms.info.update(row.key_value_pairs)
                frames.append(atoms)
            return frames
        frames = read(path, index=":")
    except FileNotFoundError:
        raise GeoelfError("no such file", path) from None
    except Exception as exc:  # ASE raises many types for unreadable files
        raise GeoelfError(f"cannot read structures ({exc.__class__.__name__}: {str(exc)[:60]})", path) from None
    return frames if isinstance(frames, list) else [frames]
