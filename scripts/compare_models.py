"""Compare model packages side by side: pooled accuracy on the same files and prediction time.

    python scripts/compare_models.py "data/v1/fluid/h64_rs1.33_T2800_s111/*.h5" runs/ab/A/model runs/ab/B/model \
        [--threads 2] [--runs 7]

For each model: `geoelf evaluate FILES --no-topology` (``geoelf.analysis.evaluate``) (R², MAE, RMSE, W1 pooled over every
grid point of every file), the median seconds to predict the first file's grid (first call
excluded as warm-up) and the parameter count. Run it on a quiet machine when the times matter.
"""

from __future__ import annotations

import argparse
import glob
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("files", help="glob of reference samples (.h5) or ELF files")
    parser.add_argument("models", nargs="+", help="model package folders or shipped names")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    from geoelf.analysis.evaluate import evaluate, references
    from geoelf.io import read_elf
    from geoelf.model.predict import Predictor

    files = sorted(glob.glob(args.files))
    if not files:
        raise SystemExit(f"no files match {args.files}")
    ref = read_elf(files[0])  # dataset samples (.h5) too
    print(f"{len(files)} files; time on {'×'.join(map(str, ref.shape))} with {len(ref.atoms)} atoms, {args.threads} threads")
    for model in args.models:
        pred = Predictor(model, threads=args.threads)
        a = evaluate(pred, references(files), topology=False)["aggregate"]
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            pred.grid(ref.atoms, ref.shape)
            times.append(time.perf_counter() - t0)
        params = sum(p.numel() for p in pred.net.parameters())
        print(f"{model}: R² {a['r2']:.5f}  MAE {a['mae']:.4f}  RMSE {a['rmse']:.4f}  W1 {a['w1']:.4f}  "
              f"{statistics.median(times[1:]):.3f} s per frame  {params} parameters", flush=True)


if __name__ == "__main__":
    main()
