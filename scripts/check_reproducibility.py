"""Recompute the ELF of N random stored samples with `geoelf dft elf` and compare (R²).

    python scripts/check_reproducibility.py [DATASET] [--n 3] [--seed 0]
"""

from __future__ import annotations

import argparse
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
    return float(1 - np.sum((ref - other) ** 2) / np.sum((ref - ref.mean()) ** 2))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset", nargs="?", default=str(Path(__file__).resolve().parents[1] / "data" / "v1"))
    parser.add_argument("--n", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
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
            print(f"{meta['sample_id']}: R² = {r2(stored.data, fresh.data):.7f}, max |Δ| = {np.abs(stored.data - fresh.data).max():.2e}, "
                  f"ΔP = {fresh_meta['pressure_gpa'] - meta['pressure_gpa']:+.3f} GPa, {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
