"""Generate dataset v1 (fluid MD snapshots + ELF labels) — resumable, run in the background.

    nohup nice -n 15 python scripts/generate_v1.py > gen.log 2>&1 &

Each (rs, T) condition gets three independent trajectories (replicas) of 10 snapshots, so that
the split by trajectory can hold out whole MD runs while every condition stays in training.
Stages widen coverage first — replica 0 of every condition, then replica 1, then replica 2 —
so a run that is cut short still spans all densities and temperatures. MD segments are kept under
data/v1/md/<trajectory>/ and labelled samples under data/v1/fluid/<trajectory>/; both are
committed as they finish, and a rerun continues from what is on disk.

Each snapshot is labelled as soon as its MD segment exists. While the file named by
``--pause-file`` exists the script waits between steps (never inside a pw.x run), so that
benchmarks can have the machine to themselves without stretching the recorded DFT timings.
"""

from __future__ import annotations

from pathlib import Path

from geoelf.dft.md import generate

ROOT = Path(__file__).resolve().parents[1] / "data" / "v1"
RS = [1.25, 1.33, 1.41, 1.49, 1.57, 1.65]  # bohr: ≈ 500 … 50 GPa
TEMPERATURES = [1200, 2800]  # K: molecular and atomic fluid both appear
REPLICAS = 3
SNAPSHOTS = 10


def plan_64(replica: int) -> list[dict]:
    runs = []
    for i, rs in enumerate(RS):
        for j, t in enumerate(TEMPERATURES):
            seed = 100 + 10 * i + j + 1000 * replica
            runs.append({"name": f"h64_rs{rs:.2f}_T{t}_s{seed}", "natoms": 64, "rs": rs, "temperature_k": t, "seed": seed})
    return runs


def plan_128() -> list[dict]:
    return [{"name": f"h128_rs{rs:.2f}_T{t}_s{s}", "natoms": 128, "rs": rs, "temperature_k": t, "seed": s}
            for rs, t, s in [(1.41, 1200, 200), (1.49, 2800, 201)]]


def main() -> None:
    generate(ROOT, [(SNAPSHOTS, plan_64(r)) for r in range(REPLICAS)] + [(15, plan_128())])


if __name__ == "__main__":
    main()
