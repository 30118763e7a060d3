"""Training runs on disk: the resolved config, resumable checkpoints and the loss curve.

``OUT/checkpoint.safetensors`` (model, weight average and Adam state; no pickle) and
``OUT/checkpoint.json`` (step, history, random generator state) are rewritten atomically after
every validation; ``resume`` continues a run only when its data, network and seed are the same.
Shared by the ProbeNet loop (``loop.py``) and the CNN baseline (``cnn.py``).
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING

from geoelf.errors import GeoelfError
from geoelf.io.common import atomic_path
from geoelf.train.config import TrainConfig

if TYPE_CHECKING:
    from geoelf.train.loop import WeightAverage

log = logging.getLogger(__name__)


def write_resolved(out: Path, cfg: TrainConfig) -> None:
    import yaml

    with atomic_path(out / "config.resolved.yaml") as tmp:
        Path(tmp).write_text(yaml.safe_dump(cfg.as_dict(), sort_keys=False))


def checkpoint(out: Path, net, opt, ema: WeightAverage | None, state: dict) -> None:
    from safetensors.torch import save_file

    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    if ema:
        tensors.update({f"ema.{k}": v.detach().cpu().contiguous() for k, v in ema.net.state_dict().items()})
    for i, s in opt.state_dict()["state"].items():
        for name, value in s.items():
            value = value.detach().cpu()
            tensors[f"optim.{i}.{name}"] = value.reshape(-1).contiguous() if value.ndim == 0 else value.contiguous()
    with atomic_path(out / "checkpoint.safetensors") as tmp:
        save_file(tensors, tmp)
    with atomic_path(out / "checkpoint.json") as tmp:
        Path(tmp).write_text(json.dumps(state))


def resume(out: Path, cfg: TrainConfig, net, opt, ema: WeightAverage | None = None) -> dict:
    """Load the last checkpoint if there is one made with the same data, net and seed."""
    import torch
    from safetensors.torch import load_file

    meta_path = out / "checkpoint.json"
    if not meta_path.exists():
        return {}
    state = json.loads(meta_path.read_text())
    old = {**TrainConfig().as_dict(), **state.get("config", {})}  # keys added since take their defaults
    for key in (
        "data",
        "seed",
        "net",
        "synthetic",
        "train_split",
        "steps",
        "lr",
        "lr_final",
        "batch_structures",
        "probes_per_structure",
        "architecture",
        "ema",
    ):
        if old.get(key) != cfg.as_dict().get(key):
            raise GeoelfError(f"{out} holds a run with another {key}; use a new --out or delete it", str(meta_path))
    tensors = load_file(str(out / "checkpoint.safetensors"))
    net.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    if ema:
        ema.net.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
    osd = opt.state_dict()
    for i in range(len(osd["param_groups"][0]["params"])):
        entry = {}
        for name in ("step", "exp_avg", "exp_avg_sq"):
            key = f"optim.{i}.{name}"
            if key in tensors:
                entry[name] = tensors[key].reshape(()) if name == "step" else tensors[key]
        if entry:
            osd["state"][i] = entry
    opt.load_state_dict(osd)
    log.info("resuming from step %d", state["step"])
    torch.manual_seed(cfg.seed + state["step"])
    return state


def plot_history(history: list[dict], path: Path) -> None:
    from geoelf.plots import _pyplot

    plt = _pyplot()
    steps = [h["step"] for h in history]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
    ax.semilogy(steps, [math.sqrt(h["train_mse"]) for h in history], label="train RMSE")
    ax.semilogy(steps, [h["val_rmse"] for h in history], label="validation RMSE")
    ax.semilogy(steps, [h["val_mae"] for h in history], label="validation MAE")
    ax.set_xlabel("step")
    ax.set_ylabel("ELF error")
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
