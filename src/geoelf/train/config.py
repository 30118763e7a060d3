"""Training configuration: a YAML file, then command-line overrides (``key=value``, dotted keys).

Every key of :class:`TrainConfig` can appear in the file; ``net`` holds the keys of
:class:`geoelf.model.network.NetConfig`. ``configs/dense-h-v1.yaml`` is the recipe of the shipped model
(read it there rather than copied here, where it would drift)::

    geoelf train configs/dense-h-v1.yaml steps=500 net.features=64 out=runs/try
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from geoelf.data.dataset import DEFAULT_DATASET
from geoelf.errors import GeoelfError


@dataclass
class TrainConfig:
    # a dataset folder, or a list of them whose splits of the same name are joined (data/v1 and data/v2:
    # one label set, one DFT protocol); each keeps its own held-out splits
    data: str | list[str] = DEFAULT_DATASET
    train_split: str = "train"
    val_split: str = "val"
    out: str = "runs/model"
    name: str = "model"
    version: int = 1  # of the weights under this name, written into the package's config.json
    seed: int = 0
    steps: int = 20000
    stop_at: int = 0  # > 0: stop (with a checkpoint) at this step; a rerun continues to ``steps``
    minutes: float = 110.0
    batch_structures: int = 4
    probes_per_structure: int = 2000
    lr: float = 2e-3
    lr_final: float = 5e-5
    weight_decay: float = 0.0
    grad_clip: float = 10.0
    val_every: int = 500
    val_probes: int = 20000
    threads: int = 0  # 0: torch's default
    device: str = "auto"  # "auto": the GPU when there is one (cuda), else "cpu"; or name one
    # True: the learning rate decays with max(step / steps, minutes spent / minutes), so a run cut
    # short by its wall-clock budget still ends at lr_final (budgeted runs on unknown hardware)
    lr_by_time: bool = False
    synthetic: int = 0  # > 0: train on this many synthetic promolecular-ELF structures (tests, demos)
    # True: train through torch.compile (inductor; 1.3-1.4x more steps a minute on the CPU, after
    # a compile of about 2 minutes that the clock counts); prediction and validation stay eager
    compile: bool = False
    # > 0: also keep an exponential moving average of the weights with this decay per step (e.g.
    # 0.9998: a window of ~5,000 steps); validation, the best-model choice and the package use the
    # average, which smooths out the noise of small steps at no cost at prediction time
    ema: float = 0.0
    # > 0: a validation whose MAE exceeds this many times the best so far marks a diverged run (a
    # collapse to a constant field gives ~30x); the run then returns to the weights, optimiser state
    # and average of its last good validation and halves its learning rate from there on, instead
    # of spending the rest of its budget on a collapsed model
    rollback: float = 3.0
    architecture: str = "probenet"  # or "elfnet-cnn" (the CNN baseline)
    # a model package (name or folder) whose weights start the run (``warm_start``); "" starts from random weights
    init_from: str = ""
    net: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _coerce(text: str) -> Any:
    import yaml

    return yaml.safe_load(text)


def load_config(path: str | None, overrides: list[str] | None = None) -> TrainConfig:
    """Read YAML (if given) and apply ``key=value`` overrides (``net.features=64``)."""
    import yaml

    values: dict[str, Any] = {}
    if path:
        try:
            values = yaml.safe_load(Path(path).read_text()) or {}
        except FileNotFoundError:
            raise GeoelfError("no such file", path) from None
        except yaml.YAMLError as exc:
            raise GeoelfError(f"not valid YAML ({exc.__class__.__name__})", path) from None
        if not isinstance(values, dict):
            raise GeoelfError("a training config must be a mapping", path)
    for item in overrides or []:
        if "=" not in item:
            raise GeoelfError(f"override {item!r} is not key=value")
        key, text = item.split("=", 1)
        target = values
        *parents, last = key.split(".")
        for p in parents:
            target = target.setdefault(p, {})
        target[last] = _coerce(text)
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise GeoelfError(f"unknown training settings: {', '.join(unknown)}", path)
    data = values.get("data", DEFAULT_DATASET)
    if not (isinstance(data, str) or (isinstance(data, list) and data and all(isinstance(d, str) for d in data))):
        raise GeoelfError(f"data must be a dataset folder or a list of them, not {data!r}", path)
    if values.get("architecture", "probenet") not in ("probenet", "elfnet-cnn"):
        raise GeoelfError(f"architecture must be probenet or elfnet-cnn, not {values['architecture']!r}", path)
    from geoelf.model.cnn import CnnConfig
    from geoelf.model.network import NetConfig

    net_class = CnnConfig if values.get("architecture") == "elfnet-cnn" else NetConfig
    net_known = {f.name for f in fields(net_class)}
    bad = sorted(set(values.get("net", {})) - net_known)
    if bad:
        raise GeoelfError(f"unknown net settings: {', '.join(bad)}", path)
    return TrainConfig(**values)
