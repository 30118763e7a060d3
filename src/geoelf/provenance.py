"""What made a number: hashes of inputs and models, the package version and the options in force.

Every table or document geoelf writes with predicted numbers carries a provenance block built
here, so that a row can be traced to the input file's content, the model's weights and settings,
the geoelf version and every option that changes a value — and so that screening can tell which
stored rows still answer the question asked now.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


def file_sha256(path: str | Path) -> str:
    """sha256 (hex) of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def canonical_sha256(obj: Any) -> str:
    """sha256 of the canonical JSON text of ``obj`` (sorted keys, no spaces)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def model_provenance(model: Any) -> dict[str, Any]:
    """Name, version and hashes of a loaded model (a Predictor, a CNN package or a baseline)."""
    return dict(
        getattr(model, "provenance", None)
        or {"model": model.name, "model_version": None, "weights_sha256": None, "config_sha256": None}
    )


def run_provenance(model: Any, options: dict[str, Any]) -> dict[str, Any]:
    """The provenance of a run: geoelf version, the model's identity and the options that change
    a number; ``sha256`` hashes all of it (rows with equal ``sha256`` are interchangeable)."""
    from geoelf import __version__

    block = {"geoelf_version": __version__, **model_provenance(model), "options": options}
    return {**block, "sha256": canonical_sha256(block)}
