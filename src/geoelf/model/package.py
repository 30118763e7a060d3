"""Model packages: a folder with ``weights.safetensors``, ``config.json`` and ``MODEL_CARD.md``.

Loading never unpickles anything: the network is rebuilt from config.json and the tensors are
read with safetensors. config.json holds the architecture (``net``), the training domain
(``domain``: density range, shortest H–H distance, statistics of atomic environments) and the
provenance (training data, protocol, version).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from geoelf.errors import GeoelfError

FORMAT = "geoelf-model/1"
DEFAULT_MODEL = "dense-h-v1"


def builtin_models() -> list[str]:
    root = resources.files("geoelf") / "models"
    return sorted(p.name for p in root.iterdir() if (p / "config.json").is_file()) if root.is_dir() else []


def resolve(name_or_path: str | None) -> Path:
    """A package folder from a path or the name of a model shipped inside geoelf."""
    name = name_or_path or DEFAULT_MODEL
    path = Path(name)
    if path.is_dir():
        return path
    shipped = Path(str(resources.files("geoelf") / "models" / name))
    if shipped.is_dir():
        return shipped
    have = ", ".join(builtin_models()) or "none shipped yet"
    raise GeoelfError(f"no model folder or shipped model of that name (shipped: {have})", name)


def save(net, folder: str | Path, extra: dict[str, Any], card: str | None = None) -> Path:
    """Write a model package (weights, config; a card if given)."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in net.state_dict().items()}
    save_file(tensors, str(folder / "weights.safetensors"))
    config = {"format": FORMAT, "architecture": getattr(net, "architecture", "probenet"), "net": net.config.as_dict(), **extra}
    (folder / "config.json").write_text(json.dumps(config, indent=1))
    if card is not None:
        (folder / "MODEL_CARD.md").write_text(card)
    return folder


def load(name_or_path: str | None = None):
    """(network in eval mode, config dict) of a package; the weights are read without pickle."""
    from safetensors.torch import load_file

    from geoelf.model.network import NetConfig, ProbeNet

    folder = resolve(name_or_path)
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise GeoelfError(f"unreadable config.json ({exc.__class__.__name__})", str(folder)) from None
    if config.get("format") != FORMAT:
        raise GeoelfError(f"not a {FORMAT} package", str(folder))
    if config.get("architecture", "probenet") == "elfnet-cnn":
        from geoelf.model.cnn import CnnConfig, ElfCnn

        net = ElfCnn(CnnConfig(**config["net"]))
    else:
        net = ProbeNet(NetConfig(**config["net"]))
    try:
        state = load_file(str(folder / "weights.safetensors"))
    except Exception as exc:  # safetensors raises its own error types for bad files
        raise GeoelfError(f"unreadable weights.safetensors ({exc.__class__.__name__})", str(folder)) from None
    missing, unexpected = net.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise GeoelfError(f"weights do not fit the architecture (missing {missing[:3]}, unexpected {unexpected[:3]})", str(folder))
    net.eval()
    return net, config
