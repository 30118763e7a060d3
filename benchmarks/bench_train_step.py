"""Training-step time of ProbeNet on dataset v1: eager against torch.compile, by batch shape.

    python benchmarks/bench_train_step.py configs/dense-h-v1.yaml \
        [--batches 4x500 1x500] [--threads 2] [--steps 60] [--runs 3]

For each batch shape (structures × probes a structure) and mode, one process draws random
training snapshots and probes with `geoelf train`'s own `draw_batch` and times whole steps (batch building,
forward, backward, clipped Adam step) after 10 warm-up steps (the compile happens there). Prints
the median over runs of the mean ms per step, its split, and compiled / eager speed-ups.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

ONE_RUN = r"""
import json, sys, time
import numpy as np, torch
from geoelf.model.batch import make_batch
from geoelf.model.network import NetConfig, ProbeNet
from geoelf.train.config import load_config
from geoelf.train.data import load_split
from geoelf.train.loop import draw_batch

config, structures, probes, steps, threads, compiled = sys.argv[1], *map(int, sys.argv[2:6]), sys.argv[6] == "1"
cfg = load_config(config)
torch.set_num_threads(threads)
torch.manual_seed(0)
items = load_split(cfg.data, cfg.train_split)
net = ProbeNet(NetConfig(**cfg.net))
model = torch.compile(net, dynamic=True) if compiled else net
opt = torch.optim.Adam(net.parameters(), lr=1e-4, fused=True)  # as geoelf train
rng = np.random.default_rng(0)
times = {"batch": 0.0, "forward": 0.0, "backward": 0.0, "optimiser": 0.0}
for step in range(10 + steps):
    t0 = time.perf_counter()
    parts, targets, pairs, _ = draw_batch(items, rng, structures, probes, cfg.net["cutoff_atom"])
    batch = make_batch(parts, cfg.net["cutoff_atom"], cfg.net["cutoff_probe"], atom_pairs=pairs)
    t1 = time.perf_counter()
    loss = torch.mean((model(batch) - torch.as_tensor(np.concatenate(targets))) ** 2)
    t2 = time.perf_counter()
    opt.zero_grad()
    loss.backward()
    t3 = time.perf_counter()
    torch.nn.utils.clip_grad_norm_(net.parameters(), 10.0)
    opt.step()
    t4 = time.perf_counter()
    if step >= 10:
        for key, dt in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            times[key] += 1000 * dt / steps
print(json.dumps(times))
"""


def one_run(config: str, structures: int, probes: int, steps: int, threads: int, compiled: bool) -> dict[str, float]:
    """Mean ms per step and its split, from a fresh process (a fresh compile where compiled)."""
    out = subprocess.run([sys.executable, "-c", ONE_RUN, config, str(structures), str(probes), str(steps), str(threads),
                          "1" if compiled else "0"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("config", help="a training config (its data and net are used)")
    parser.add_argument("--batches", nargs="+", default=["4x500", "1x500"], help="structures x probes a structure")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"{'batch':>8} {'mode':>8} {'ms/step':>8} {'steps/s':>8}  split (batch / forward / backward / optimiser, ms)")
    for shape in args.batches:
        structures, probes = map(int, shape.split("x"))
        medians = {}
        for compiled in (False, True):
            runs = [one_run(args.config, structures, probes, args.steps, args.threads, compiled) for _ in range(args.runs)]
            totals = [sum(r.values()) for r in runs]
            mid = runs[totals.index(statistics.median_low(totals))]
            medians[compiled] = statistics.median(totals)
            split = " / ".join(f"{v:.0f}" for v in mid.values())
            print(f"{shape:>8} {'compiled' if compiled else 'eager':>8} {medians[compiled]:8.1f} {1000 / medians[compiled]:8.2f}  {split}",
                  flush=True)
        print(f"{shape:>8} compiled / eager speed-up: {medians[False] / medians[True]:.2f}x", flush=True)


if __name__ == "__main__":
    main()
