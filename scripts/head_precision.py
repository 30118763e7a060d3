"""The ELF head in bfloat16 against float32 on a dataset split (default: validation).

    python scripts/head_precision.py [--dataset data/v1] [--split val]

For every frame, both heads predict the grid (everything else identical) and are compared with DFT:
R², MAE, φ_3D within 0.02 and critical points matched, then with each other (φ_3D and the field).
"""

from __future__ import annotations

import argparse

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="data/v1")
    parser.add_argument("--split", default="val")
    parser.add_argument("--model")
    args = parser.parse_args()
    from geoelf.analysis.compare import compare
    from geoelf.analysis.evaluate import references
    from geoelf.model.predict import Predictor

    heads = {k: Predictor(args.model, precision=k) for k in ("float32", "bfloat16")}
    sums = {k: {"res": 0.0, "abs": 0.0, "n": 0, "phi": 0, "cp": 0} for k in heads}
    ref_sum = ref_sq = 0.0
    cp_total, phi_gap, field_gap, frames = 0, [], [], 0
    for path, ref, _ in references(dataset=args.dataset, split=args.split):
        fields, phis = {}, {}
        for name, model in heads.items():
            pred = model.grid(ref.atoms, ref.shape, source=path).field
            doc = compare(ref, pred)
            err = pred.data - ref.data
            s = sums[name]
            s["res"] += float(np.sum(err**2))
            s["abs"] += float(np.sum(np.abs(err)))
            s["n"] += err.size
            s["phi"] += int(abs(doc["phi_3d_pred"] - doc["phi_3d_ref"]) <= 0.02)
            s["cp"] += doc["cp_matched"]
            fields[name], phis[name] = pred.data, doc["phi_3d_pred"]
        cp_total += doc["cp_ref"]
        ref_sum += float(ref.data.sum())
        ref_sq += float(np.sum(ref.data**2))
        phi_gap.append(abs(phis["float32"] - phis["bfloat16"]))
        field_gap.append(float(np.abs(fields["float32"] - fields["bfloat16"]).mean()))
        frames += 1
    n = sums["float32"]["n"]
    ss_tot = ref_sq - ref_sum**2 / n
    for name, s in sums.items():
        print(
            f"{name:9s} R² {1 - s['res'] / ss_tot:.6f}  MAE {s['abs'] / s['n']:.6f}  "
            f"φ_3D within 0.02 of DFT {s['phi']}/{frames}  critical points {s['cp'] / cp_total:.4f}"
        )
    print(
        f"bfloat16 against float32: φ_3D differs by {np.mean(phi_gap):.4f} on average ({max(phi_gap):.4f} at most), "
        f"the ELF by {np.mean(field_gap):.5f} on average"
    )


if __name__ == "__main__":
    main()
