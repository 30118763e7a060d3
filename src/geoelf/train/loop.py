"""The training loop: random probe subsets, validation on held-out trajectories, checkpoints.

Resuming: ``OUT/checkpoint.safetensors`` (model and Adam state; no pickle) and
``OUT/checkpoint.json`` (step, history, random generator state) are rewritten atomically after
every validation; a rerun with the same config continues from there. The best model by
validation MAE (of the moving average of the weights, with ``ema``) is written as a model package
to ``OUT/model``. A validation far worse than the best (``rollback``) sends the run back to its
last good validation with half the learning rate, so a divergence does not end a budgeted run.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from pathlib import Path

import numpy as np

from geoelf.errors import GeoelfError
from geoelf.train.checkpoints import checkpoint, plot_history, resume, write_resolved
from geoelf.train.config import TrainConfig
from geoelf.train.data import Item, load_split, synthetic_items
from geoelf.units import wigner_seitz_rs

log = logging.getLogger(__name__)


def _val_set(items: list[Item], n: int, seed: int) -> list[tuple]:
    """Fixed validation probes: (atoms, points, ELF, electronic channels or None) per structure."""
    rng = np.random.default_rng(seed)
    per = max(1, n // len(items))
    return [(it.atoms, *it.probes(rng, per)) for it in items]


def evaluate_probes(net, val: list[tuple], cfg_net, device: str = "cpu") -> dict[str, float]:
    """R², MAE, RMSE of the network on fixed validation probes (pooled)."""
    import torch

    from geoelf.model.batch import make_batch

    preds, refs = [], []
    with torch.no_grad():
        for atoms, pts, y, channels in val:
            batch = make_batch([(atoms, pts)], cfg_net.cutoff_atom, cfg_net.cutoff_probe, device=device)
            if channels is not None:
                batch["electronic"] = torch.as_tensor(channels, device=device)
            preds.append(net(batch).cpu().numpy())
            refs.append(y)
    from geoelf.analysis.compare import error_metrics

    return error_metrics(np.concatenate(refs), np.concatenate(preds))


def train(cfg: TrainConfig, progress: bool = True) -> Path:
    """Train ProbeNet as configured; returns the folder of the best model package."""
    import torch
    from tqdm import tqdm

    from geoelf.model.batch import make_batch
    from geoelf.model.network import NetConfig, ProbeNet

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    train_items, val_items = training_items(cfg)
    if cfg.architecture == "elfnet-cnn":
        from geoelf.train.cnn import train_cnn

        return train_cnn(cfg, train_items, val_items, progress)
    net_cfg = NetConfig(**cfg.net)
    dist = Distributed.start(cfg.batch_structures)
    device = dist.device(cfg.device)
    net = ProbeNet(net_cfg)
    if net_cfg.electronic_channels:
        net.set_electronic_scale(electronic_scale_sample(train_items, cfg.seed))
    if cfg.init_from:
        warm_start(net, cfg.init_from)
    net = net.to(device)
    model = dist.wrap(net)
    if cfg.compile:
        # shapes change every step (pairs within cutoffs), so compile once for dynamic shapes
        model = torch.compile(model, dynamic=True)
    # fused: one kernel for all parameters; 6.3 -> 1.8 ms a step on the CPU (clipping included), about
    # 7 % of a one-structure step
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
    ema = WeightAverage(net, cfg.ema) if cfg.ema else None
    validated = ema.net if ema else net  # the weights that are validated, compared and packaged
    state = resume(out, cfg, net, opt, ema)
    last_good = LastGood(
        net, opt, ema, state.get("step", 0)
    )  # what a diverged run returns to (checkpoints hold only good states)
    lr_scale = state.get("lr_scale", 1.0)  # halved at every return
    if dist.rank == 0:
        write_resolved(out, cfg)
    rng = np.random.default_rng(cfg.seed)
    if state.get("rng"):
        rng.bit_generator.state = state["rng"]
    val = _val_set(val_items, cfg.val_probes, cfg.seed + 1)
    history = state.get("history", [])
    best = state.get("best_mae", math.inf)
    step = state.get("step", 0)
    t_start = time.perf_counter() - state.get("seconds", 0.0)
    # when the clock ends the run, a step total would give a false ETA: show the minutes left instead
    # into a log file (not a terminal) one line a minute, not one per step
    bar = tqdm(
        total=None if cfg.lr_by_time else cfg.steps,
        initial=step,
        desc="train",
        unit="step",
        disable=not progress or dist.rank != 0,
        mininterval=0.1 if sys.stderr.isatty() else 60,
    )
    losses: list[float] = []
    lr = cfg.lr

    def validate_and_save() -> None:
        nonlocal best, losses, lr_scale
        metrics = evaluate_probes(validated, val, net_cfg, device)
        minutes = (time.perf_counter() - t_start) / 60
        history.append(
            {
                "step": step,
                "train_mse": float(np.mean(losses)),
                "lr": lr,
                **{f"val_{k}": v for k, v in metrics.items()},
                "minutes": minutes,
            }
        )
        if ema:  # the raw weights too, so every run shows what the average gains
            history[-1].update({f"raw_val_{k}": v for k, v in evaluate_probes(net, val, net_cfg, device).items()})
        losses = []
        left = {"min_left": f"{max(0.0, cfg.minutes - minutes):.0f}"} if cfg.lr_by_time else {}
        bar.set_postfix(val_mae=f"{metrics['mae']:.4f}", val_r2=f"{metrics['r2']:.4f}", **left)
        # only one process validates, so under DDP the ranks could not all return: no rollback there
        if diverged(metrics["mae"], best, cfg.rollback) and dist.world == 1:
            last_good.restore()
            lr_scale *= 0.5
            history[-1]["rolled_back_to_step"] = last_good.step
            log.warning(
                "step %d: validation MAE %.4f against the best %.4f: back to step %d, learning rate x%g",
                step,
                metrics["mae"],
                best,
                last_good.step,
                lr_scale,
            )
        else:
            last_good.keep(step)
            if metrics["mae"] < best:
                best = metrics["mae"]
                _package(validated, out / "model", cfg, train_items, history)
        checkpoint(
            out,
            net,
            opt,
            ema,
            {
                "step": step,
                "history": history,
                "best_mae": best,
                "rng": rng.bit_generator.state,
                "seconds": time.perf_counter() - t_start,
                "lr_scale": lr_scale,
                "config": cfg.as_dict(),
            },
        )
        plot_history(history, out / "loss.png")

    while step < cfg.steps and not (cfg.stop_at and step >= cfg.stop_at):
        # every rank sees the same (mean) clock, so all stop at the same step with the same lr
        minutes_spent = dist.mean((time.perf_counter() - t_start) / 60)
        if minutes_spent > cfg.minutes:
            log.info("time budget of %.0f min spent at step %d", cfg.minutes, step)
            if losses and dist.rank == 0:
                validate_and_save()  # the steps since the last validation are not lost
            break
        progress_fraction = step / max(1, cfg.steps)
        if cfg.lr_by_time:
            progress_fraction = max(progress_fraction, minutes_spent / cfg.minutes)
        lr = lr_scale * cfg.lr * (cfg.lr_final / cfg.lr) ** min(1.0, progress_fraction)
        for group in opt.param_groups:
            group["lr"] = lr
        # every rank draws the whole global batch, so all ranks stay in step; on a GPU the atom
        # pairs are searched there (make_batch), so none are cached
        parts, targets, pairs, channels = draw_batch(
            train_items, rng, cfg.batch_structures, cfg.probes_per_structure, None if dist.cuda else net_cfg.cutoff_atom
        )
        # each rank takes its share; DDP averages the gradients, which equals the gradient of
        # the mean over the global batch because every share has the same number of probes
        parts, targets, pairs, channels = (
            parts[dist.rank :: dist.world],
            targets[dist.rank :: dist.world],
            pairs[dist.rank :: dist.world],
            channels[dist.rank :: dist.world],
        )
        batch = make_batch(parts, net_cfg.cutoff_atom, net_cfg.cutoff_probe, device=device, atom_pairs=pairs or None)
        if channels:
            batch["electronic"] = torch.as_tensor(np.concatenate(channels), device=device)
        pred = model(batch)
        loss = torch.mean((pred - torch.as_tensor(np.concatenate(targets), device=device)) ** 2)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
        opt.step()
        if ema:
            ema.update(step)
        losses.append(dist.mean(float(loss.detach())))
        step += 1
        bar.update(1)
        if (step % cfg.val_every == 0 or step in (cfg.steps, cfg.stop_at)) and dist.rank == 0:
            validate_and_save()
    bar.close()
    if dist.rank == 0 and not (out / "model" / "config.json").exists():
        _package(validated, out / "model", cfg, train_items, history)
    dist.stop()
    return out / "model"


def draw_batch(
    items: list[Item], rng: np.random.Generator, structures: int, probes: int, cutoff_atom: float | None
) -> tuple[list, list[np.ndarray], list, list[np.ndarray]]:
    """A training batch: ``structures`` distinct random snapshots, ``probes`` random grid points of each.
    Returns the (atoms, points (P, 3) Å) pairs for ``make_batch``, their ELF (P,) each, each
    snapshot's cached atom pairs within ``cutoff_atom`` Å (none when it is None), and the probes'
    electronic channels (P, C) each (none for items without them)."""
    chosen = rng.choice(len(items), size=min(structures, len(items)), replace=False)
    parts, targets, pairs, channels = [], [], [], []
    for k in chosen:
        pts, y, ch = items[k].probes(rng, probes)
        parts.append((items[k].atoms, pts))
        targets.append(y)
        if ch is not None:
            channels.append(ch)
        if cutoff_atom is not None:
            pairs.append(items[k].atom_pairs(cutoff_atom))
    return parts, targets, pairs, channels


class WeightAverage:
    """An exponential moving average of a network's weights (``net``: a copy that holds it).

    The decay ramps up as min(decay, (1 + step) / (10 + step)), so early averages are not dominated
    by the random initial weights."""

    def __init__(self, source, decay: float) -> None:
        import copy

        self.source, self.decay = source, decay
        self.net = copy.deepcopy(source)
        for p in self.net.parameters():
            p.requires_grad_(False)

    def update(self, step: int) -> None:
        import torch

        decay = min(self.decay, (1 + step) / (10 + step))
        with torch.no_grad():  # one fused lerp over all tensors, as torch's own optimisers do
            torch._foreach_lerp_(list(self.net.parameters()), list(self.source.parameters()), 1.0 - decay)


def diverged(mae: float, best: float, factor: float) -> bool:
    """Whether a validation MAE marks a diverged run: above ``factor`` times the best so far, or not a
    number (factor 0: never; before a first finite best: never)."""
    return factor > 0 and math.isfinite(best) and not mae <= factor * best


class LastGood:
    """The weights, optimiser state and weight average at the last validation that was not diverged,
    copied in memory (a few MB for ProbeNet), so that a diverged run can return to them."""

    def __init__(self, net, opt, ema: WeightAverage | None, step: int) -> None:
        self.net, self.opt, self.ema = net, opt, ema
        self.keep(step)

    def keep(self, step: int) -> None:
        import copy

        self.step = step
        self.saved = copy.deepcopy(
            (self.net.state_dict(), self.opt.state_dict(), self.ema.net.state_dict() if self.ema else None)
        )

    def restore(self) -> None:
        import copy

        weights, optimiser, average = copy.deepcopy(self.saved)  # a second rollback may need them again
        self.net.load_state_dict(weights)
        self.opt.load_state_dict(optimiser)
        if self.ema:
            self.ema.net.load_state_dict(average)


class Distributed:
    """Data parallelism under torchrun (DDP): gloo on CPU, nccl on GPUs; a no-op otherwise."""

    def __init__(self, rank: int = 0, world: int = 1, local_rank: int = 0) -> None:
        self.rank, self.world, self.local_rank = rank, world, local_rank
        self.cuda = False

    @classmethod
    def start(cls, batch_structures: int) -> Distributed:
        import os

        import torch.distributed as td

        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world == 1:
            return cls()
        if batch_structures % world:
            raise GeoelfError(f"batch_structures ({batch_structures}) must be a multiple of the {world} processes")
        import torch

        td.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        return cls(td.get_rank(), world, int(os.environ.get("LOCAL_RANK", "0")))

    def device(self, wanted: str) -> str:
        """The torch device of this process: ``wanted`` ("auto": this rank's GPU if any, else cpu)."""
        import torch

        if wanted == "auto":
            wanted = f"cuda:{self.local_rank}" if torch.cuda.is_available() else "cpu"
        if wanted.startswith("cuda") and not torch.cuda.is_available():
            raise GeoelfError(f"device {wanted!r} asked for, but torch sees no GPU")
        self.cuda = wanted.startswith("cuda")
        return wanted

    def wrap(self, net):
        if self.world == 1:
            return net
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(net, device_ids=[self.local_rank] if self.cuda else None)

    def mean(self, value: float) -> float:
        """The mean of a number over all processes (the global batch loss)."""
        if self.world == 1:
            return value
        import torch
        import torch.distributed as td

        t = torch.tensor([value], dtype=torch.float64, device=f"cuda:{self.local_rank}" if self.cuda else "cpu")
        td.all_reduce(t)
        return float(t) / self.world

    def stop(self) -> None:
        if self.world > 1:
            import torch.distributed as td

            td.barrier()
            td.destroy_process_group()


def training_items(cfg: TrainConfig) -> tuple[list[Item], list[Item]]:
    """Training and validation structures (synthetic ones when ``cfg.synthetic`` > 0), with their
    one-shot channels for an electronic model."""
    electronic = None
    if cfg.net.get("electronic_channels"):
        from geoelf.electronic.features import electronic_channels, settings_for

        electronic = settings_for(cfg.net.get("electronic_plane_spacing"))
    if cfg.synthetic:
        train, val = (
            synthetic_items(cfg.synthetic, cfg.seed),
            synthetic_items(max(1, cfg.synthetic // 4), cfg.seed + 999),
        )
        if electronic is not None:
            for it in train + val:
                it.channels = electronic_channels(it.atoms, electronic).astype(np.float32)
        return train, val
    return load_split(cfg.data, cfg.train_split, electronic), load_split(cfg.data, cfg.val_split, electronic)


def electronic_scale_sample(items: list[Item], seed: int, per_item: int = 200):
    """Electronic channels at random training probes (P, C), whose mean and spread standardise them."""
    import torch

    rng = np.random.default_rng(seed + 2)
    return torch.as_tensor(np.concatenate([it.probes(rng, per_item)[2] for it in items]))


def warm_start(net, source: str) -> None:
    """Start from the weights of the model package ``source`` (a name or folder): every tensor of the same
    shape is copied; the head's first layer, which may read more inputs here (the electronic channels
    appended to its input), takes the source's columns first and zeros for the new ones, so the start
    predicts exactly what the source does."""
    import torch

    from geoelf.model import package

    old, _ = package.load(source)
    mine = net.state_dict()
    for name, value in old.state_dict().items():
        if name not in mine or name.startswith("electronic_"):
            continue
        target = mine[name]
        if target.shape == value.shape:
            target.copy_(value)
        elif target.dim() == 2 and target.shape[0] == value.shape[0] and target.shape[1] > value.shape[1]:
            target.zero_()
            target[:, : value.shape[1]] = value
        else:
            raise ValueError(f"cannot start from {source}: {name} is {tuple(value.shape)}, here {tuple(target.shape)}")
    with torch.no_grad():
        net.load_state_dict(mine)


def _package(net, folder: Path, cfg: TrainConfig, items: list[Item], history: list[dict]) -> None:
    import copy

    from geoelf.model import package

    net = copy.deepcopy(net).cpu()  # packages and domain statistics are made on the CPU
    package.save(
        net,
        folder,
        {
            "name": cfg.name,
            "version": cfg.version,
            "training": {
                "data": cfg.data,
                "split": cfg.train_split,
                "seed": cfg.seed,
                "synthetic": cfg.synthetic,
                "last": history[-1] if history else None,
            },
            "protocol_id": items[0].meta.get("protocol_id") or "synthetic",
            "domain": domain_stats(net, items),
        },
    )


def domain_stats(net, items: list[Item]) -> dict:
    """Training domain: density range, shortest H–H distance, atomic-feature mean/std and the
    largest standardised feature distance seen in training (×1.25 is the out-of-domain limit)."""
    import torch

    from geoelf.neighbours import neighbour_pairs

    rs, dmin, feats = [], math.inf, []
    for it in items:
        a = it.atoms
        rs.append(wigner_seitz_rs(a.get_volume(), len(a)))
        i, j, d = neighbour_pairs(a.positions, a.positions, a.cell.array, net.config.cutoff_atom, exclude_self=True)
        if len(d):
            dmin = min(dmin, float(np.linalg.norm(d, axis=1).min()))
        with torch.no_grad():
            state = net.atom_state(
                torch.as_tensor(a.numbers),
                torch.as_tensor(i),
                torch.as_tensor(j),
                torch.as_tensor(d, dtype=torch.float32),
            )
            feats.append(net.invariant(state).double().numpy())
    f = np.concatenate(feats)
    mu, sd = f.mean(0), f.std(0) + 1e-6
    z = np.sqrt(np.mean(((f - mu) / sd) ** 2, axis=1))
    return {
        "rs_range": [float(min(rs)), float(max(rs))],
        "min_hh": dmin,
        "feature_mean": mu.tolist(),
        "feature_std": sd.tolist(),
        "feature_z_max": float(1.25 * z.max()),
    }
