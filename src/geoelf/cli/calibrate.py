"""geoelf calibrate: fit a model's error model (σ of the ELF and of φ) on held-out DFT frames."""

from __future__ import annotations

import argparse

from geoelf.cli.common import add_reference_options
from geoelf.model.package import DEFAULT_MODEL


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_reference_options(p, "fit on every sample of this split (the validation split, never the test)")
    p.add_argument("--model", help=f"model package folder or shipped name (default: {DEFAULT_MODEL})")
    p.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        help="write a calibrated copy of the package here (default: in place)",
    )
    p.add_argument("--points", type=int, default=4000, help="random grid points a frame for the σ head (default 4000)")
    p.add_argument("--draws", type=int, default=64, help="field draws behind each σ_φ (default 64)")
    p.add_argument("--json", action="store_true", help="print the calibration record as JSON")


def run(args: argparse.Namespace) -> int:
    import shutil
    from pathlib import Path

    from geoelf.analysis.evaluate import references
    from geoelf.cli.common import print_json
    from geoelf.errors import GeoelfError
    from geoelf.model import package
    from geoelf.model.calibrate import calibrate
    from geoelf.model.predict import Predictor
    from geoelf.model.uncertainty import JSON_FILE, WEIGHTS_FILE, save_calibration

    if args.points < 100 or args.draws < 8:
        raise GeoelfError("--points must be at least 100 and --draws at least 8")
    folder = package.resolve(args.model)
    if args.output:
        target = Path(args.output)
        if target.exists() and any(target.iterdir()):
            raise GeoelfError("output folder exists and is not empty", str(target))
        shutil.copytree(folder, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns(JSON_FILE, WEIGHTS_FILE))
        folder = target
    # the same fit on every machine (float32), whatever calibration the package holds now
    predictor = Predictor(str(folder), precision="float32", calibrated=False)
    refs = references(args.references, args.dataset, args.split)
    head, record = calibrate(predictor, refs, points_per_frame=args.points, draws=args.draws)
    # one dataset as its folder (as calibrations have always recorded it), several as their list
    record["fitted_on"]["dataset"] = args.dataset[0] if args.dataset and len(args.dataset) == 1 else args.dataset
    record["fitted_on"]["split"] = args.split
    path = save_calibration(folder, head, record)
    if args.json:
        print_json(record)
        return 0
    print(
        f"{path}: σ(x) scale {record['point_scale']:.3f}, σ_φ scale {record['phi_scale']:.3f}, "
        f"ξ {record['xi_A']:.3f} Å, from {record['fitted_on']['frames']} frames"
    )
    return 0
