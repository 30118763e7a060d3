"""Training of the ELFNet-style CNN baseline on whole grids (same config, checkpoints, package)."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from geoelf.train.checkpoints import checkpoint, plot_history, resume, write_resolved
from geoelf.train.config import TrainConfig
from geoelf.train.data import Item


def _grid_metrics(net, inputs, items) -> dict[str, float]:
    import torch

    preds, refs = [], []
    with torch.no_grad():
        for x, it in zip(inputs, items):
            preds.append(net(torch.from_numpy(x)[None, None])[0].numpy().ravel())
            refs.append(it.elf.ravel())
    from geoelf.analysis.compare import error_metrics

    return error_metrics(np.concatenate(refs), np.concatenate(preds))


def train_cnn(cfg: TrainConfig, train_items: list[Item], val_items: list[Item], progress: bool = True) -> Path:
    import torch
    from tqdm import tqdm

    from geoelf.model import package
    from geoelf.model.cnn import CnnConfig, ElfCnn, density_input

    out = Path(cfg.out)
    net = ElfCnn(CnnConfig(**cfg.net))
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    state = resume(out, cfg, net, opt)
    write_resolved(out, cfg)
    x_train = [density_input(it.atoms, it.elf.shape) for it in train_items]
    x_val = [density_input(it.atoms, it.elf.shape) for it in val_items]
    rng = np.random.default_rng(cfg.seed)
    if state.get("rng"):
        rng.bit_generator.state = state["rng"]
    step, history, best = state.get("step", 0), state.get("history", []), state.get("best_mae", math.inf)
    t_start = time.perf_counter() - state.get("seconds", 0.0)
    losses = []
    bar = tqdm(total=cfg.steps, initial=step, desc="train cnn", unit="step", disable=not progress)
    while step < cfg.steps and not (cfg.stop_at and step >= cfg.stop_at):
        minutes_spent = (time.perf_counter() - t_start) / 60
        if minutes_spent > cfg.minutes:
            break
        fraction = step / max(1, cfg.steps)
        if cfg.lr_by_time:  # decay over the time budget when it, not the step count, ends the run
            fraction = max(fraction, minutes_spent / cfg.minutes)
        lr = cfg.lr * (cfg.lr_final / cfg.lr) ** min(1.0, fraction)
        for group in opt.param_groups:
            group["lr"] = lr
        opt.zero_grad()
        chosen = rng.choice(len(train_items), size=min(cfg.batch_structures, len(train_items)), replace=False)
        total = 0.0
        for k in chosen:  # grids differ in shape: accumulate gradients structure by structure
            pred = net(torch.from_numpy(x_train[k])[None, None])[0]
            loss = torch.mean((pred - torch.from_numpy(train_items[k].elf)) ** 2) / len(chosen)
            loss.backward()
            total += float(loss.detach())
        torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
        opt.step()
        losses.append(total)
        step += 1
        bar.update(1)
        out_of_time = (time.perf_counter() - t_start) / 60 > cfg.minutes
        if step % cfg.val_every == 0 or step in (cfg.steps, cfg.stop_at) or out_of_time:
            m = _grid_metrics(net, x_val, val_items)
            history.append(
                {
                    "step": step,
                    "train_mse": float(np.mean(losses)),
                    "lr": lr,
                    **{f"val_{k}": v for k, v in m.items()},
                    "minutes": (time.perf_counter() - t_start) / 60,
                }
            )
            losses = []
            if m["mae"] < best:
                best = m["mae"]
                package.save(
                    net,
                    out / "model",
                    {
                        "name": cfg.name,
                        "version": cfg.version,
                        "training": {"data": cfg.data, "synthetic": cfg.synthetic, "last": history[-1]},
                        "protocol_id": train_items[0].meta.get("protocol_id") or "synthetic",
                    },
                )
            checkpoint(
                out,
                net,
                opt,
                None,
                {
                    "step": step,
                    "history": history,
                    "best_mae": best,
                    "rng": rng.bit_generator.state,
                    "seconds": time.perf_counter() - t_start,
                    "config": cfg.as_dict(),
                },
            )
            plot_history(history, out / "loss.png")
    bar.close()
    return out / "model"
