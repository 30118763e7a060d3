"""Generate dataset v2's fluid part (MD snapshots + ELF labels) — resumable, run in the background.

    nohup nice -n 19 python scripts/generate_v2.py [--replicas N] > gen-v2.log 2>&1 &

Dataset v2 widens dataset v1 (rs 1.25–1.65 bohr at 1200 and 2800 K) to the whole dense-hydrogen
fluid: denser cells (rs 1.05–1.20, ≈ 0.6–1.5 TPa), sparser cells (rs 1.75–2.10, ≈ 10–40 GPa, down
towards the melting line) and v1's densities at the temperatures v1 lacks. The labels are DFT
protocol v1, so v1 and v2 form one label set.

Each (rs, T) condition gets three independent trajectories (replicas) of ``SNAPSHOTS`` snapshots so
that the split by trajectory can hold out whole MD runs while every condition stays in training.
Stages widen coverage first — replica 0 of every condition, then replica 1, then replica 2 — so a
run that is cut short still spans all densities and temperatures; ``--replicas 2`` stops after
replica 1, which is what the split holds out, so the solids and heterogeneous cells (whose held-out
sets need them) can run before replica 2, which only adds training data. MD segments go to
``data/v2/md/<trajectory>/`` and labelled samples to ``data/v2/fluid/<trajectory>/``; a rerun
continues from what is on disk. While the file named by ``--pause-file`` exists the script waits
between steps (never inside a pw.x run), so that benchmarks can have the machine to themselves.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from geoelf.dft.md import generate

ROOT = Path(__file__).resolve().parents[1] / "data" / "v2"
# (rs in bohr, temperature in K). The low-density end starts just above the classical melting
# line of PBE hydrogen; the dense end and v1's densities reach 4000 K.
CONDITIONS = [
    (1.05, 1500), (1.05, 4000), (1.12, 1500), (1.12, 4000), (1.20, 1500), (1.20, 4000),
    (1.75, 1000), (1.75, 3000), (1.90, 1000), (1.90, 3000), (2.10, 800), (2.10, 3000),
    (1.25, 4000), (1.41, 4000), (1.57, 4000), (1.33, 2000), (1.49, 2000), (1.65, 2000),
]
REPLICAS = 3
SNAPSHOTS = 5
SEED_BASE = 5000  # v1 used 100–2200; v2's seeds never repeat a v1 trajectory


def plan(replica: int) -> list[dict]:
    """One trajectory per condition for ``replica`` (0, 1, 2), with a seed unique to it."""
    runs = []
    for i, (rs, t) in enumerate(CONDITIONS):
        seed = SEED_BASE + 10 * i + 1000 * replica
        runs.append({"name": f"h64_rs{rs:.2f}_T{t}_s{seed}", "natoms": 64, "rs": rs, "temperature_k": t, "seed": seed})
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(
        epilog="also: --only SUBSTRING of trajectory names, --pause-file PATH (see geoelf.dft.md.generate)"
    )
    parser.add_argument("--replicas", type=int, choices=range(1, REPLICAS + 1), default=REPLICAS,
                        help="run replicas 0 … N-1 only")
    args, rest = parser.parse_known_args()
    generate(ROOT, [(SNAPSHOTS, plan(r)) for r in range(args.replicas)], rest)


if __name__ == "__main__":
    main()
