"""geoelf dataset build | info | split | export."""

from __future__ import annotations

import argparse

from geoelf.cli.common import print_json


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    b = sub.add_parser("build", help="samples from ELF files (cube, ELFCAR, XSF) or STRUCTURE:ELF pairs")
    b.add_argument("output", metavar="DATASET", help="dataset folder (samples go to DATASET/<name>.h5)")
    b.add_argument("inputs", nargs="+", metavar="ELF_OR_PAIR")
    b.add_argument("--phase", default="unknown", help="'fluid' or a crystal name")
    b.add_argument("--temperature", type=float, help="K")
    b.add_argument("--rs", type=float, help="bohr")
    b.add_argument("--pressure", type=float, help="GPa")
    b.add_argument("--trajectory", help="trajectory id (splits never divide one)")
    i = sub.add_parser("info", help="counts by phase, split, density, temperature and pressure")
    i.add_argument("dataset", metavar="DATASET")
    i.add_argument("--json", action="store_true")
    s = sub.add_parser("split", help="train/val/test split by trajectory → DATASET/splits.json")
    s.add_argument("dataset", metavar="DATASET")
    s.add_argument("--json", action="store_true")
    e = sub.add_parser("export", help="write the ELF of samples as cube or ELFCAR files")
    e.add_argument("dataset", metavar="DATASET")
    e.add_argument("-o", "--output", required=True, metavar="DIR")
    e.add_argument("--to", choices=["cube", "elfcar"], default="cube")
    e.add_argument("--split", help="only this split")


def run(args: argparse.Namespace) -> int:
    from geoelf.data import dataset as ds

    if args.action == "build":
        meta = {
            "phase": args.phase,
            "temperature_k": args.temperature,
            "rs": args.rs,
            "pressure_gpa": args.pressure,
            "trajectory": args.trajectory,
        }
        written = ds.import_files(args.output, args.inputs, meta)
        print(f"{len(written)} new samples in {args.output} ({len(ds.find_samples(args.output))} in all)")
    elif args.action == "info":
        doc = ds.info(args.dataset)
        if args.json:
            print_json(doc)
        else:
            _print_info(doc)
    elif args.action == "split":
        splits = ds.make_splits(args.dataset)
        if args.json:
            print_json(splits)
        else:
            for name, trajs in splits.items():
                print(f"{name:11s} {len(trajs):3d} trajectories/structures")
    elif args.action == "export":
        paths = ds.samples_of_split(args.dataset, args.split) if args.split else ds.find_samples(args.dataset)
        out = ds.export(paths, args.output, args.to)
        print(f"{len(out)} files written under {args.output}")
    return 0


def _print_info(doc: dict) -> None:
    print(f"{doc['root']}: {doc['total']} samples, {doc['trajectories']} trajectories, {doc['bytes'] / 1e6:.1f} MB")
    for key in ("by_phase", "by_split", "natoms", "by_rs", "by_temperature", "by_pressure_gpa", "by_condition"):
        if doc.get(key):
            print(f"  {key:16s} " + ", ".join(f"{k}: {v}" for k, v in doc[key].items()))
    if doc.get("pressure_range_gpa"):
        lo, hi = doc["pressure_range_gpa"]
        print(
            f"  pressure         {lo:.0f} – {hi:.0f} GPa (DFT stress, static ions; the ideal-gas term is stored apart)"
        )
