"""geoelf evaluate REFERENCE...: a model (or baseline) against DFT ELF files or a dataset split."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("references", nargs="*", metavar="REFERENCE", help="ELF files (cube, ELFCAR, XSF, .npz, .h5 samples; .gz ok)")
    p.add_argument("--dataset", help="dataset folder (with --split)")
    p.add_argument("--split", help="evaluate every sample of this split")
    p.add_argument("--model", help="model package, shipped name, or 'promolecular' (no-learning baseline)")
    p.add_argument("--no-topology", action="store_true", help="skip φ and critical points (faster)")
    p.add_argument("--plots", metavar="DIR", help="write parity.png and histogram.png here")
    p.add_argument("--json", action="store_true")


def _references(args):
    from pathlib import Path

    from geoelf.errors import GeoelfError

    paths = list(args.references)
    if args.split:
        from geoelf.data.dataset import samples_of_split

        paths += [str(p) for p in samples_of_split(args.dataset or "data/v1", args.split)]
    if not paths:
        raise GeoelfError("give reference files or --dataset DIR --split NAME")
    for path in paths:
        if Path(path).suffix == ".h5":
            from geoelf.data.sample import read_sample

            field, meta = read_sample(path)
        else:
            from geoelf.io import read_elf

            field, meta = read_elf(path), {}
        yield path, field, meta


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from geoelf.analysis.compare import compare, metrics
    from geoelf.cli.common import fmt, print_json
    from geoelf.data.dataset import pressure_bin
    from geoelf.model.baselines import get_model

    from geoelf.provenance import file_sha256, run_provenance
    from geoelf.topology.network import TOPOLOGY_SETTINGS

    model = get_model(args.model)
    provenance = run_provenance(model, {"topology": None if args.no_topology else TOPOLOGY_SETTINGS})
    files, refs, preds, bins = [], [], [], {}
    for path, ref, meta in _references(args):
        pred = model.grid(ref.atoms, ref.shape, source=path)
        doc = {"path": path, "input_sha256": file_sha256(path), **compare(ref, pred.field, topology=not args.no_topology), "seconds_predict": pred.seconds,
               "out_of_domain": pred.out_of_domain, "pressure_gpa": meta.get("pressure_gpa")}
        files.append(doc)
        refs.append(ref.data.ravel())
        preds.append(pred.field.data.ravel())
        bins.setdefault(pressure_bin(meta.get("pressure_gpa")), []).append(len(files) - 1)
    r, p = np.concatenate(refs), np.concatenate(preds)
    aggregate = metrics(r, p)
    if not args.no_topology:
        phi = [abs(f["phi_3d_pred"] - f["phi_3d_ref"]) for f in files if f["phi_3d_pred"] is not None and f["phi_3d_ref"] is not None]
        aggregate["phi_3d_within_0.02"] = float(np.mean(np.array(phi) <= 0.02)) if phi else None
        aggregate["cp_matched_fraction"] = sum(f["cp_matched"] for f in files) / max(1, sum(f["cp_ref"] for f in files))
    aggregate["seconds_predict_median"] = float(np.median([f["seconds_predict"] for f in files]))
    by_pressure = {}
    for name, idx in sorted(bins.items()):
        rb = np.concatenate([refs[i] for i in idx])
        pb = np.concatenate([preds[i] for i in idx])
        by_pressure[name] = {"files": len(idx), **metrics(rb, pb)}
    doc = {"model": model.name, "provenance": provenance, "files": files, "aggregate": aggregate, "by_pressure": by_pressure}
    if args.plots:
        from geoelf.analysis.plots import parity_and_histogram

        doc["plots"] = parity_and_histogram(r, p, args.plots, model.name)
    if args.json:
        print_json(doc)
        return 0
    print(f"model {model.name} (weights {provenance['weights_sha256'] or '-'}, provenance {provenance['sha256'][:12]}): "
          f"{len(files)} files")
    width = max(len("file"), *(len(f["path"]) for f in files))
    print(f"  {'file':{width}s} {'R²':>8s} {'MAE':>7s} {'max':>6s} {'W1':>7s} {'φ3D ref':>7s} {'φ3D pred':>8s} {'CPs':>9s} {'s':>6s}")
    for f in files:
        cps = f"{f.get('cp_matched', '-')}/{f.get('cp_ref', '-')}"
        print(f"  {f['path']:{width}s} {f['r2']:8.5f} {f['mae']:7.4f} {f['max_abs']:6.3f} {f['w1']:7.4f} "
              f"{fmt(f.get('phi_3d_ref'), 3):>7s} {fmt(f.get('phi_3d_pred'), 3):>8s} {cps:>9s} {f['seconds_predict']:6.3f}")
    a = aggregate
    print(f"  aggregate: R² {a['r2']:.5f}  MAE {a['mae']:.4f}  RMSE {a['rmse']:.4f}  max {a['max_abs']:.3f}  W1 {a['w1']:.4f}")
    for name, b in by_pressure.items():
        if name != "unknown":  # references without a pressure (plain ELF files) have no bin
            print(f"  {name:>10s} GPa: {b['files']:3d} files  R² {b['r2']:.5f}  MAE {b['mae']:.4f}")
    return 0
