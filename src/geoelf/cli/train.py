"""geoelf train CONFIG.yaml [key=value ...]: train ProbeNet; resumes from OUT's checkpoint."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", nargs="?", metavar="CONFIG.yaml")
    p.add_argument(
        "overrides", nargs="*", metavar="KEY=VALUE", help="override settings, e.g. steps=500 net.features=64"
    )
    p.add_argument("--out", help="output folder (same as out=...)")


def run(args: argparse.Namespace) -> int:
    from geoelf.train.config import load_config
    from geoelf.train.loop import train

    overrides = list(args.overrides)
    if args.config and "=" in args.config:  # only overrides were given
        overrides.insert(0, args.config)
        args.config = None
    if args.out:
        overrides.append(f"out={args.out}")
    cfg = load_config(args.config, overrides)
    model = train(cfg)
    print(f"model package: {model}   (checkpoint and loss curve in {cfg.out})")
    return 0
