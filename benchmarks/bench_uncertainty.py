"""What the uncertainty costs: σ(x) on the grid against the plain prediction, and σ of the topology.

    python benchmarks/bench_uncertainty.py [--model dense-h-v1] [--frames 10] [--runs 3] [--threads 2] [--busy]

On real 64-atom test frames of dataset v1 (their DFT grids), in one process per run: the seconds of
``Predictor.grid`` without and with ``uncertainty=True`` (frames alternating, so both see the same
machine), their ratio, and the extra seconds of σ of φ_1D/2D/3D, φ* (``frame_sigma``: the field draws
and graph sweeps) beside the analysis a frame gets anyway. Medians over frames 2…N of each run, then
the median of ``--runs`` fresh processes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

from busy import one_busy_process

CHILD = r"""
import json, statistics, sys, time
from geoelf.data.dataset import samples_of_split
from geoelf.data.sample import read_sample
from geoelf.model.predict import Predictor
from geoelf.topology.network import analyse
from geoelf.topology.uncertainty import frame_sigma

model, frames, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
pred = Predictor(None if model == "default" else model, threads)
c = pred.calibration
plain, with_sigma, analysis, topo = [], [], [], []
for path in samples_of_split("data/v1", "test")[:frames]:
    ref = read_sample(path)[0]
    t0 = time.perf_counter(); pred.grid(ref.atoms, ref.shape); t1 = time.perf_counter()
    p = pred.grid(ref.atoms, ref.shape, uncertainty=True); t2 = time.perf_counter()
    an = analyse(p.field, grid_26=False); t3 = time.perf_counter()
    frame_sigma(an, p.sigma, c.xi_A, c.samples, c.phi_scale); t4 = time.perf_counter()
    plain.append(t1 - t0); with_sigma.append(t2 - t1); analysis.append(t3 - t2); topo.append(t4 - t3)
med = lambda xs: statistics.median(xs[1:])
print(json.dumps({"plain": med(plain), "sigma": med(with_sigma), "analysis": med(analysis), "topology_sigma": med(topo)}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="default")
    parser.add_argument("--frames", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--busy", action="store_true", help="one other process spinning on a core throughout")
    args = parser.parse_args()
    runs = []
    with one_busy_process(args.busy):
        for _ in range(args.runs):
            out = subprocess.run(
                [sys.executable, "-c", CHILD, args.model, str(args.frames), str(args.threads)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            runs.append(json.loads(out.strip().splitlines()[-1]))
            print(f"run {len(runs)}: " + ", ".join(f"{k} {v:.3f} s" for k, v in runs[-1].items()), flush=True)
    m = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(
        f"64-atom test frames, {args.threads} threads, medians of {args.runs} runs: prediction {m['plain']:.3f} s, "
        f"with σ(x) {m['sigma']:.3f} s (×{m['sigma'] / m['plain']:.2f}); analysis {m['analysis']:.3f} s, "
        f"σ of the topology +{m['topology_sigma']:.3f} s"
    )


if __name__ == "__main__":
    main()
