"""Model packages: a folder with ``weights.safetensors``, ``config.json`` and ``MODEL_CARD.md``.

Loading never unpickles anything: the network is rebuilt from config.json and the tensors are
read with safetensors. config.json holds the architecture (``net``), the training domain
(``domain``: density range, shortest H–H distance, statistics of atomic environments), the
provenance (training data, protocol, version) and ``sha256``: the hashes of the weights file and of
the settings that change a prediction, checked on every load (``geoelf.model.validate``).
"""

from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from geoelf.errors import GeoelfError
from geoelf.model.validate import FORMAT

DEFAULT_MODEL = "dense-h-v2"  # dense-h-v2-geometry: the same domain without the one-shot, about 3× faster a frame


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
    config = {
        "format": FORMAT,
        "architecture": getattr(net, "architecture", "probenet"),
        "net": net.config.as_dict(),
        **extra,
    }
    from geoelf.model.validate import check_config

    config = seal(config, folder)
    check_config(config, str(folder), settings_classes())  # a package that could not be loaded is never written
    (folder / "config.json").write_text(json.dumps(config, indent=1))
    if card is not None:
        (folder / "MODEL_CARD.md").write_text(card)
    return folder


def architectures() -> dict[str, tuple[type, type]]:
    """Known architectures: name → (settings class, network class)."""
    from geoelf.model.cnn import CnnConfig, ElfCnn
    from geoelf.model.network import NetConfig, ProbeNet

    return {"probenet": (NetConfig, ProbeNet), "elfnet-cnn": (CnnConfig, ElfCnn)}


def settings_classes() -> dict[str, type]:
    return {name: classes[0] for name, classes in architectures().items()}


def build(config: dict[str, Any], folder: str, device: str = "cpu"):
    """The network a validated config describes; ``device="meta"`` allocates no memory (for the
    shape check). Settings that pass the schema but cannot make a network are the package's error."""
    import warnings

    import torch

    settings, network = architectures()[config["architecture"]]
    retired = getattr(sys.modules[settings.__module__], "RETIRED_OPTIONS", {})  # checked off by validate
    net = {k: v for k, v in config["net"].items() if k not in retired}
    try:
        with torch.device(device), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # torch: "zero-element tensors" of unused 0-width blocks
            return network(settings(**net))
    except Exception as exc:  # the network's own consistency checks raise various types
        raise GeoelfError(
            f"config.json: net settings do not make a {config['architecture']} network "
            f"({exc.__class__.__name__}: {' '.join(str(exc).split())[:80]})",
            folder,
        ) from None


def seal(config: dict[str, Any], folder: str | Path) -> dict[str, Any]:
    """``config`` with its ``sha256`` block: the weights file's hash and the signed settings' hash."""
    from geoelf.model.validate import config_sha256
    from geoelf.provenance import file_sha256

    record = {"weights": file_sha256(Path(folder) / "weights.safetensors"), "config": config_sha256(config)}
    return {**{k: v for k, v in config.items() if k != "sha256"}, "sha256": record}


def read_config(name_or_path: str | None = None) -> tuple[Path, dict[str, Any]]:
    """(folder, config) of a package, validated against the schema and its recorded hashes."""
    from geoelf.model.validate import check_config, check_integrity

    folder = resolve(name_or_path)
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise GeoelfError(f"unreadable config.json ({exc.__class__.__name__})", str(folder)) from None
    check_config(config, str(folder), settings_classes())
    check_integrity(config, folder)
    return folder, config


def provenance(config: dict[str, Any]) -> dict[str, Any]:
    """What identifies a loaded package in results: name, version and its two hashes."""
    return {
        "model": config["name"],
        "model_version": config["version"],
        "weights_sha256": config["sha256"]["weights"],
        "config_sha256": config["sha256"]["config"],
    }


def load(name_or_path: str | None = None):
    """(network in eval mode, config dict) of a validated package; the weights are read without pickle."""
    from safetensors.torch import load_file

    from geoelf.model.validate import check_shapes

    folder, config = read_config(name_or_path)
    try:
        state = load_file(str(folder / "weights.safetensors"))
    except Exception as exc:  # safetensors raises its own error types for bad files
        raise GeoelfError(f"unreadable weights.safetensors ({exc.__class__.__name__})", str(folder)) from None
    check_shapes(build(config, str(folder), "meta"), state, str(folder))
    net = build(config, str(folder))
    net.load_state_dict(state)
    net.eval()
    return net, config
