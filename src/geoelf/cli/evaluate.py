"""geoelf evaluate REFERENCE...: a model (or baseline) against DFT ELF files or a dataset split."""

from __future__ import annotations

import argparse

from geoelf.cli.common import add_reference_options


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_reference_options(p, "evaluate every sample of this split")
    p.add_argument("--model", help="model package, shipped name, or 'promolecular' (no-learning baseline)")
    p.add_argument("--no-topology", action="store_true", help="skip φ and critical points (faster)")
    p.add_argument(
        "--no-uncertainty", action="store_true", help="skip the coverage of the model's σ (default: when it has one)"
    )
    p.add_argument("--plots", metavar="DIR", help="write parity.png and histogram.png here")
    p.add_argument(
        "--targets",
        metavar="FILE",
        help="YAML targets (configs/dense-h-v2-targets.yaml): print those set on this split, measured and met or not",
    )
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from geoelf.analysis.evaluate import evaluate, references
    from geoelf.analysis.targets import target_rows
    from geoelf.cli.common import fmt, print_json
    from geoelf.model.baselines import get_model

    targets = split_targets(args)  # a bad targets file stops the run before any prediction
    model = get_model(args.model)
    refs = references(args.references, args.dataset, args.split)
    uncertainty = False if args.no_uncertainty else None  # None: whenever the model carries a calibration
    doc = evaluate(model, refs, topology=not args.no_topology, plots=args.plots, uncertainty=uncertainty)
    if targets is not None:
        doc["targets"] = [{"target": t, "rows": [asdict(row) for row in target_rows(t, doc)]} for t in targets]
    files, aggregate, by_pressure, provenance = doc["files"], doc["aggregate"], doc["by_pressure"], doc["provenance"]
    if args.json:
        print_json(doc)
        return 0
    print(
        f"model {model.name} (weights {provenance['weights_sha256'] or '-'}, provenance {provenance['sha256'][:12]}): "
        f"{len(files)} files"
    )
    width = max(len("file"), *(len(f["path"]) for f in files))
    print(
        f"  {'file':{width}s} {'R²':>8s} {'MAE':>7s} {'max':>6s} {'W1':>7s} "
        f"{'φ3D ref':>7s} {'φ3D pred':>8s} {'CPs':>9s} {'s':>6s}"
    )
    for f in files:
        cps = f"{f.get('cp_matched', '-')}/{f.get('cp_ref', '-')}"
        print(
            f"  {f['path']:{width}s} {f['r2']:8.5f} {f['mae']:7.4f} {f['max_abs']:6.3f} {f['w1']:7.4f} "
            f"{fmt(f.get('phi_3d_ref'), 3):>7s} {fmt(f.get('phi_3d_pred'), 3):>8s} {cps:>9s} "
            f"{f['seconds_predict']:6.3f}"
        )
    a = aggregate
    within = a.get("phi_3d_within_0.02")
    print(
        f"  aggregate: R² {a['r2']:.5f}  MAE {a['mae']:.4f}  RMSE {a['rmse']:.4f}  "
        f"max {a['max_abs']:.3f}  W1 {a['w1']:.4f}" + ("" if within is None else f"  φ_3D within 0.02 {within:.0%}")
    )
    if "within_1sigma" in a:
        phi = a.get("phi_3d") or {}
        line = f"  uncertainty: grid points within ±σ {a['within_1sigma']:.1%}, ±2σ {a['within_2sigma']:.1%}"
        if phi:
            line += f"; φ_3D within ±σ_φ {phi['within_1sigma']:.0%}, ±2σ_φ {phi['within_2sigma']:.0%}"
        print(line)
    for name, b in by_pressure.items():
        if name != "unknown":  # references without a pressure (plain ELF files) have no bin
            print(f"  {name:>10s} GPa: {b['files']:3d} files  R² {b['r2']:.5f}  MAE {b['mae']:.4f}")
    if len(doc["by_condition"]) > 1:
        for name, b in doc["by_condition"].items():
            phi = b.get("phi_3d_within_0.02")
            within = "" if phi is None else f"  φ_3D within 0.02 {phi:.0%}"
            print(f"  {name:>16s}: {b['files']:3d} files  R² {b['r2']:.5f}  MAE {b['mae']:.4f}{within}")
    if targets is not None:
        print_targets(args, doc["targets"])
    return 0


def split_targets(args: argparse.Namespace) -> list[dict] | None:
    """The targets of ``--targets`` set on the evaluated split (None without the option)."""
    if not args.targets:
        return None
    from geoelf.analysis.targets import load_targets, targets_of_split

    targets = load_targets(args.targets)
    return targets_of_split(targets, args.dataset, args.split) if args.split else []


def print_targets(args: argparse.Namespace, targets: list[dict]) -> None:
    """Each target's measures: goal, measured, met."""
    if not targets:
        where = "this split" if args.split else "files (targets are set on dataset splits: --dataset, --split)"
        print(f"  targets: {args.targets} sets none on {where}")
        return
    rows = [row for t in targets for row in t["rows"]]
    print(f"  targets ({args.targets}): {sum(r['met'] for r in rows)} of {len(rows)} met")
    for r in rows:
        verdict = "met" if r["met"] else "NOT MET"
        print(f"    {r['measure']:<32s} {r['goal']:>9s}  measured {r['measured']:<34s} {verdict}")
