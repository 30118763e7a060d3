"""A model's accuracy targets on held-out splits, and whether an evaluation meets them.

A targets file is a YAML list, one entry per split (``configs/dense-h-v2-targets.yaml``)::

    - {split: test, r2: 0.9966}                                   # a split of dataset v1
    - {split: "data/v2:test", r2: 0.995, phi_within: 0.9, every_condition: true}

``split`` names a split of the default dataset (``data/v1``) or, as DATASET:NAME, of another one;
``r2`` is the least pooled R² over the split's grid points, ``phi_within`` the least share of frames
whose φ_3D lies within 0.02 of DFT's, and ``every_condition`` asks both of every sampling condition
(rs, T) of the split rather than of the split pooled. ``geoelf evaluate --targets FILE`` and the
model card (``scripts/model_card.py --targets``) table them against what was measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geoelf.data.dataset import DEFAULT_DATASET, split_spec
from geoelf.errors import GeoelfError

KEYS = {"split": str, "r2": float, "phi_within": float, "every_condition": bool}


@dataclass
class TargetRow:
    """One measure of one target: what is measured, the goal, what was measured, whether it is met."""

    measure: str
    goal: str
    measured: str
    met: bool


def load_targets(path: str | Path) -> list[dict[str, Any]]:
    """The targets of a YAML file, each checked: a split, known keys of the right types, and at least
    one of ``r2`` and ``phi_within``, both in [0, 1]."""
    import yaml

    try:
        targets = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise GeoelfError(f"cannot read the targets: {exc}", str(path)) from None
    if not isinstance(targets, list) or not targets:
        raise GeoelfError("a targets file is a non-empty YAML list of {split, r2, phi_within, …}", str(path))
    for k, target in enumerate(targets):
        where = f"target {k + 1}"
        if not isinstance(target, dict) or not isinstance(target.get("split"), str):
            raise GeoelfError(f"{where} has no split", str(path))
        unknown = set(target) - set(KEYS)
        if unknown:
            raise GeoelfError(f"{where} has unknown keys {sorted(unknown)} (known: {sorted(KEYS)})", str(path))
        if "r2" not in target and "phi_within" not in target:
            raise GeoelfError(f"{where} sets neither r2 nor phi_within", str(path))
        for key in ("r2", "phi_within"):
            value = target.get(key, 0.0)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
                raise GeoelfError(f"{where}: {key} must be a number in [0, 1], not {value!r}", str(path))
        if not isinstance(target.get("every_condition", False), bool):
            raise GeoelfError(f"{where}: every_condition must be true or false", str(path))
    return targets


def targets_of_split(targets: list[dict[str, Any]], datasets: list[str] | None, split: str) -> list[dict[str, Any]]:
    """The targets that name ``split`` of the one dataset in ``datasets`` (default: data/v1); none
    when several datasets are joined, since a target is set on one dataset's split."""
    folders = datasets or [DEFAULT_DATASET]
    if len(folders) != 1:
        return []
    here = Path(folders[0]).resolve()
    chosen = []
    for target in targets:
        folder, name = split_spec(target["split"], DEFAULT_DATASET)
        if name == split and Path(folder).resolve() == here:
            chosen.append(target)
    return chosen


def target_rows(target: dict[str, Any], doc: dict[str, Any]) -> list[TargetRow]:
    """Each measure of ``target`` on an evaluation document (``geoelf.analysis.evaluate.evaluate``):
    pooled or, with ``every_condition``, the worst sampling condition of the split (named)."""
    groups = doc.get("by_condition") if target.get("every_condition") else None
    groups = groups if groups and len(groups) > 1 else {"pooled": doc["aggregate"]}
    scope = "every condition" if len(groups) > 1 else "pooled"
    rows = []
    for key, label, fmt in (("r2", "R²", ".5f"), ("phi_within", "Δφ_3D within 0.02", ".0%")):
        if key not in target:
            continue
        field = "r2" if key == "r2" else "phi_3d_within_0.02"
        values = {name: g.get(field) for name, g in groups.items()}
        goal = f"≥ {target[key]:{fmt}}"
        if any(v is None for v in values.values()):  # evaluated without topology: no φ
            rows.append(TargetRow(f"{label}, {scope}", goal, "not measured", False))
            continue
        worst = min(values, key=lambda name: values[name])
        measured = f"{values[worst]:{fmt}}" + (f" ({worst})" if len(groups) > 1 else "")
        rows.append(TargetRow(f"{label}, {scope}", goal, measured, values[worst] >= target[key]))
    return rows
