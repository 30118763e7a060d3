"""Recompute the ELF of N random stored samples with `geoelf dft elf` and compare (R²).

    python scripts/check_reproducibility.py [DATASET] [--n 3] [--seed 0] [--record]

With --record the results go to DATASET/reproducibility.json, which the dataset card reports.
Exit status 1 when any sample is reproduced with R² below 0.9999 (the dataset's reproducibility target).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from ase.io import write

from geoelf.data.dataset import find_samples
from geoelf.data.sample import read_sample


def r2(ref: np.ndarray, other: np.ndarray) -> float:
    from geoelf.analysis.compare import error_metrics

    return error_metrics(ref, other)["r2"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset", nargs="?", default=str(Path(__file__).resolve().parents[1] / "data" / "v1"))
    parser.add_argument("--n", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--record", action="store_true", help="write DATASET/reproducibility.json")
    args = parser.parse_args()
    results = []
    samples = random.Random(args.seed).sample(find_samples(args.dataset), args.n)
    with tempfile.TemporaryDirectory() as tmp:
        for path in samples:
            stored, meta = read_sample(path)
            structure = Path(tmp) / f"{meta['sample_id']}.extxyz"
            write(structure, stored.atoms, format="extxyz")
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "geoelf.cli.main", "dft", "elf", str(structure), "-o", tmp], check=True,
                           stdout=subprocess.DEVNULL)
            fresh, fresh_meta = read_sample(Path(tmp) / f"{meta['sample_id']}.h5")
            result = {"sample": meta["sample_id"], "natoms": len(stored.atoms), "r2": r2(stored.data, fresh.data),
                      "max_abs": float(np.abs(stored.data - fresh.data).max()),
                      "dp_gpa": fresh_meta["pressure_gpa"] - meta["pressure_gpa"],
                      "seconds": time.perf_counter() - t0}
            results.append(result)
            print(f"{result['sample']}: R² = {result['r2']:.7f}, max |Δ| = {result['max_abs']:.2e}, "
                  f"ΔP = {result['dp_gpa']:+.3f} GPa, {result['seconds']:.0f} s")
    if args.record:
        dataset = os.path.relpath(args.dataset, Path(__file__).resolve().parents[1])
        record = {"command": f"python scripts/check_reproducibility.py {dataset} --n {args.n} --seed {args.seed} --record",
                  "date": time.strftime("%Y-%m-%d"), "nprocs": os.environ.get("GEOELF_NPROCS", "default"),
                  "samples": results}
        (Path(args.dataset) / "reproducibility.json").write_text(json.dumps(record, indent=1) + "\n")
    sys.exit(0 if all(r["r2"] >= 0.9999 for r in results) else 1)


if __name__ == "__main__":
    main()
