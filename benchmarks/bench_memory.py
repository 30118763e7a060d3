"""Peak memory of predicting a large cell on a fine grid (target: 2 000 atoms, 200³, < 2 GB).

    python benchmarks/bench_memory.py [--model M] [--atoms 2000] [--grid 200]

Without --model, an untrained network of the dense-h-v1 architecture (configs/dense-h-v1.yaml)
is used: memory and time depend on the architecture and the sizes, not on the weights.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import yaml


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model")
    parser.add_argument("--atoms", type=int, default=2000)
    parser.add_argument("--grid", type=int, default=200)
    args = parser.parse_args()
    import torch

    from geoelf.dft.md import random_molecular_start
    from geoelf.model import package
    from geoelf.model.network import NetConfig, ProbeNet
    from geoelf.model.predict import Predictor

    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if model is None:
            net_cfg = yaml.safe_load((Path(__file__).resolve().parents[1] / "configs" / "dense-h-v1.yaml").read_text())["net"]
            torch.manual_seed(0)
            model = str(package.save(ProbeNet(NetConfig(**net_cfg)), Path(tmp) / "m", {"name": "untrained"}))
        atoms = random_molecular_start(args.atoms, 1.45, seed=1)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t0 = time.perf_counter()
        pred = Predictor(model).grid(atoms, (args.grid,) * 3)
        seconds = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.atoms} atoms, {args.grid}³ grid: {seconds:.1f} s, peak RSS {peak:.0f} MB "
          f"(before predicting {before:.0f} MB; the ELF grid itself {pred.field.data.nbytes / 2**20:.0f} MB)")


if __name__ == "__main__":
    main()
