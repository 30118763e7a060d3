"""geoelf residuals REFERENCE...: where and at what wavelengths a prediction differs from DFT."""

from __future__ import annotations

import argparse
from typing import Any

from geoelf.cli.common import add_reference_options


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_reference_options(p, "every sample of this split")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--model", help="model package, shipped name or 'promolecular'")
    src.add_argument(
        "--prediction", nargs="+", metavar="FILE", help="predicted ELF files, one per reference, same grids"
    )
    p.add_argument("--plots", metavar="DIR", help="write acf.png, spectrum.png, trends.png, delta_slice.png")
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    from geoelf.analysis.evaluate import references
    from geoelf.analysis.residuals import by_pressure, residual_report
    from geoelf.cli.common import fmt, print_json
    from geoelf.errors import GeoelfError

    refs = list(references(args.references, args.dataset, args.split))
    if args.prediction:
        from geoelf.io import read_elf

        if len(args.prediction) != len(refs):
            raise GeoelfError(f"{len(args.prediction)} predictions for {len(refs)} references")
        preds = [read_elf(p) for p in args.prediction]
    else:
        from geoelf.model.baselines import get_model

        model = get_model(args.model)
        preds = [model.grid(ref.atoms, ref.shape, source=path).field for path, ref, _ in refs]
    files = []
    for (path, ref, meta), pred in zip(refs, preds):
        if pred.shape != ref.shape:
            raise GeoelfError(f"prediction grid {pred.shape} differs from the reference {ref.shape}", path)
        files.append({"path": path, "pressure_gpa": meta.get("pressure_gpa"), **residual_report(ref, pred)})
    doc: dict[str, Any] = {"files": files, "by_pressure": by_pressure(files)}
    if args.plots:
        from geoelf.analysis.plots import residual_plots

        doc["plots"] = residual_plots(files, doc["by_pressure"], refs[0][1], preds[0], args.plots)
    if args.json:
        print_json(doc)
        return 0
    print(
        f"  {'file':48s} {'RMS':>7s} {'ξ (Å)':>6s} {'ξ fit':>6s} {'ξ ELF':>6s} {'d_HH':>6s} "
        f"{'long-wave':>9s} {'LW ELF':>7s} "
        f"{'R²':>8s} {'R² w/o LW':>9s}"
    )
    for f in files:
        print(
            f"  {f['path'][-48:]:48s} {f['rms']:7.4f} {fmt(f['xi'], 3):>6s} {fmt(f['xi_fit'], 3):>6s} "
            f"{fmt(f['xi_reference'], 3):>6s} "
            f"{f['d_hh']:6.3f} {f['longwave_fraction']:9.3f} {f['reference_longwave_fraction']:7.3f} {f['r2']:8.5f} "
            f"{f['r2_without_longwave']:9.5f}"
        )
    for row in doc["by_pressure"]:
        print(
            f"  {row['bin_gpa']:>9s} GPa ({row['files']} files): RMS {row['rms']['mean']:.4f} "
            f"[{row['rms']['ci95'][0]:.4f}, {row['rms']['ci95'][1]:.4f}]  ξ {fmt(row['xi']['mean'], 3)} Å "
            f"[{fmt(row['xi']['ci95'][0], 3)}, {fmt(row['xi']['ci95'][1], 3)}]  "
            f"long-wave {row['longwave_fraction']['mean']:.3f}"
        )
    return 0
