"""Checks that a model package is what it says it is, before any weight is used.

A package's ``config.json`` is checked against a schema (types, ranges, known architectures and
species, required blocks); its ``sha256`` block records the sha256 of ``weights.safetensors`` and
of the settings that change a prediction (architecture, ``net``, ``domain``, ``protocol_id``), and
both are recomputed on load. A hand-edited cutoff, a removed domain block or swapped weights is then
one :class:`GeoelfError` naming the folder and the problem, never a silently different field.
"""

from __future__ import annotations

import math
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

from geoelf.errors import GeoelfError
from geoelf.provenance import canonical_sha256, file_sha256

SUPPORTED_SPECIES = (1,)  # atomic numbers any geoelf model may be trained for
# Upper bounds of integer widths: far above any useful model, low enough that a typo cannot make
# the package allocate gigabytes before its weights are compared.
MAX_WIDTH = 4096
FORMAT = "geoelf-model/1"
MAX_LAYERS = 64


def config_sha256(config: dict[str, Any]) -> str:
    """Hash of everything in config.json but the ``sha256`` block itself."""
    return canonical_sha256({k: v for k, v in config.items() if k != "sha256"})


def check_config(config: Any, folder: str, known: dict[str, type]) -> type:
    """Validate a parsed config.json against ``known`` architectures (name → settings dataclass);
    returns the settings class of its architecture."""
    if not isinstance(config, dict):
        raise GeoelfError(f"config.json must hold a JSON object, not {type(config).__name__}", folder)
    if config.get("format") != FORMAT:
        raise GeoelfError(f"config.json: format is {config.get('format')!r}, not {FORMAT!r}", folder)
    arch = config.get("architecture")
    if not isinstance(arch, str) or arch not in known:
        raise GeoelfError(f"config.json: unknown architecture {arch!r} (known: {', '.join(known)})", folder)
    for key, kind in (("name", str), ("version", int), ("protocol_id", str), ("net", dict), ("sha256", dict)):
        _require(config, key, kind, folder, "config.json")
    _check_net(config["net"], known[arch], folder)
    if arch == "probenet":
        _require(config, "domain", dict, folder, "config.json")
        _check_domain(config["domain"], config["net"], folder)
    return known[arch]


def check_integrity(config: dict[str, Any], folder: Path) -> None:
    """Compare the recorded sha256 of the weights and of the signed settings with the files."""
    record = config["sha256"]
    for key in ("weights", "config"):
        value = record.get(key)
        if not (isinstance(value, str) and len(value) == 64):
            raise GeoelfError(f"config.json: sha256.{key} is missing or not a sha256 hex digest", str(folder))
    weights = folder / "weights.safetensors"
    if not weights.is_file():
        raise GeoelfError("no weights.safetensors", str(folder))
    if file_sha256(weights) != record["weights"]:
        raise GeoelfError(
            "weights.safetensors does not match the sha256 recorded in config.json (replaced or damaged)", str(folder)
        )
    if config_sha256(config) != record["config"]:
        raise GeoelfError(
            "config.json differs from the package as it was written (sha256.config does not match; edited by hand?)",
            str(folder),
        )


def check_shapes(net, state: dict[str, Any], folder: str) -> None:
    """Every tensor present with the shape the architecture expects, finite, and nothing extra."""
    want = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    missing = sorted(set(want) - set(state))
    extra = sorted(set(state) - set(want))
    if missing or extra:
        raise GeoelfError(
            f"weights do not fit the architecture (missing {missing[:3]}, unexpected {extra[:3]})", folder
        )
    for key, shape in want.items():
        if tuple(state[key].shape) != shape:
            raise GeoelfError(
                f"weights do not fit the architecture: {key} has shape {tuple(state[key].shape)}, "
                f"the config asks for {shape}",
                folder,
            )
        if state[key].is_floating_point() and not bool(state[key].isfinite().all()):
            raise GeoelfError(f"weights hold non-finite values ({key})", folder)


def _require(block: dict, key: str, kind: type, folder: str, where: str) -> None:
    value = block.get(key)
    if value is None:
        raise GeoelfError(f"{where}: required key {key!r} is missing", folder)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise GeoelfError(f"{where}: {key!r} must be {kind.__name__}, not {type(value).__name__}", folder)


def _check_net(net: dict, settings: type, folder: str) -> None:
    """Types and ranges of the ``net`` block against the defaults of its settings class."""
    declared = {f.name: f for f in fields(settings)}
    retired = getattr(sys.modules[settings.__module__], "RETIRED_OPTIONS", {})
    for name, neutral in retired.items():
        if name in net and (net[name] != neutral or type(net[name]) is not type(neutral)):
            raise GeoelfError(
                f"config.json: net.{name} = {net[name]!r} is a retired setting (only {neutral!r})", folder
            )
    net = {k: v for k, v in net.items() if k not in retired}
    unknown = sorted(set(net) - set(declared))
    if unknown:
        raise GeoelfError(f"config.json: unknown net settings {', '.join(map(repr, unknown))}", folder)
    defaults = settings()
    for name, value in net.items():
        where = f"config.json: net.{name}"
        default = getattr(defaults, name)
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise GeoelfError(f"{where} must be true or false, not {value!r}", folder)
        elif isinstance(default, int):
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_WIDTH:
                raise GeoelfError(f"{where} must be an integer in 0–{MAX_WIDTH}, not {value!r}", folder)
        elif isinstance(default, float):
            if not _number(value) or value <= 0:
                raise GeoelfError(f"{where} must be a positive number, not {value!r}", folder)
        elif isinstance(default, list):
            if not isinstance(value, list) or not all(_number(v) and v > 0 for v in value):
                raise GeoelfError(f"{where} must be a list of positive numbers, not {value!r}", folder)
    species = net.get("species", defaults.species)
    if (
        not species
        or any(not isinstance(z, int) or z not in SUPPORTED_SPECIES for z in species)
        or len(set(species)) != len(species)
    ):
        raise GeoelfError(
            f"config.json: net.species {species!r} is not a list of supported atomic numbers "
            f"({', '.join(map(str, SUPPORTED_SPECIES))})",
            folder,
        )
    for name in ("features", "rbf", "layers", "hidden", "channels", "blocks"):
        if name in declared and net.get(name, getattr(defaults, name)) < 1:
            raise GeoelfError(f"config.json: net.{name} must be at least 1", folder)
    for name in ("layers", "blocks"):
        if name in declared and net.get(name, getattr(defaults, name)) > MAX_LAYERS:
            raise GeoelfError(f"config.json: net.{name} must be at most {MAX_LAYERS}", folder)


def _check_domain(domain: dict, net: dict, folder: str) -> None:
    """The training domain the out-of-domain check reads."""
    where = "config.json: domain"
    rs = domain.get("rs_range")
    if not (isinstance(rs, list) and len(rs) == 2 and all(_number(v) and v > 0 for v in rs) and rs[0] < rs[1]):
        raise GeoelfError(f"{where}.rs_range must be two increasing positive numbers, not {rs!r}", folder)
    for key in ("min_hh", "feature_z_max"):
        if not _number(domain.get(key)) or domain[key] < 0:
            raise GeoelfError(f"{where}.{key} must be a non-negative number", folder)
    width = net.get("features", 0)
    for key in ("feature_mean", "feature_std"):
        values = domain.get(key)
        if not (isinstance(values, list) and len(values) == width and all(_number(v) for v in values)):
            raise GeoelfError(f"{where}.{key} must be a list of {width} numbers (one per atom feature)", folder)
    if any(v <= 0 for v in domain["feature_std"]):
        raise GeoelfError(f"{where}.feature_std must be positive", folder)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
