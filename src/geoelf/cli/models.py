"""geoelf models: which model to use — the shipped models (or given packages), what each reads, what it
was trained on, its domain, whether it carries an error model, and the hashes its results will name."""

from __future__ import annotations

import argparse
from typing import Any


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "packages",
        nargs="*",
        metavar="PACKAGE",
        help="model package folders or shipped names (default: every shipped model)",
    )
    p.add_argument("--json", action="store_true", help="print the descriptions as JSON")


def describe(name: str) -> dict[str, Any]:
    """What a user chooses a model by, from its validated package (a hand-edited package or error model
    is an error naming the folder, as when it is loaded to predict)."""
    from geoelf.model import package
    from geoelf.model.uncertainty import load_calibration

    folder, config = package.read_config(name)
    net, domain, training = config["net"], config.get("domain", {}), config.get("training", {})
    data = training.get("data")
    return {
        "name": config["name"],
        "version": config["version"],
        "default": folder.resolve() == package.resolve(None).resolve(),
        "folder": str(folder),
        "architecture": config["architecture"],
        "inputs": "positions + one-shot Kohn–Sham channels" if net.get("electronic_channels") else "positions",
        "training_data": [data] if isinstance(data, str) else data,
        "training_split": training.get("split"),
        "protocol_id": config.get("protocol_id"),
        "rs_range_bohr": domain.get("rs_range"),
        "min_hh_A": domain.get("min_hh"),
        "error_model": load_calibration(folder, config["sha256"]["weights"]) is not None,
        "weights_sha256": config["sha256"]["weights"],
        "config_sha256": config["sha256"]["config"],
    }


def table(rows: list[dict[str, Any]]) -> str:
    """The descriptions as an aligned table, the default model starred."""
    header = ("model", "version", "reads", "trained on", "rs (bohr)", "shortest H–H", "σ", "weights sha256")
    lines = [header]
    for r in rows:
        rs = r["rs_range_bohr"]
        lines.append(
            (
                r["name"] + (" *" if r["default"] else ""),
                str(r["version"]),
                r["inputs"],
                " + ".join(f"{d}:{r['training_split']}" for d in r["training_data"] or []) or "–",
                f"{rs[0]:.2f}–{rs[1]:.2f}" if rs else "–",
                f"{r['min_hh_A']:.3f} Å" if r["min_hh_A"] is not None else "–",
                "yes" if r["error_model"] else "no",
                r["weights_sha256"][:12],
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in lines]
    if any(r["default"] for r in rows):
        text.append("* the default (predict, evaluate and screen without --model)")
    return "\n".join(text)


def run(args: argparse.Namespace) -> int:
    from geoelf.cli.common import print_json
    from geoelf.model import package

    rows = [describe(name) for name in args.packages or package.builtin_models()]
    if args.json:
        print_json(rows)
    else:
        print(table(rows))
    return 0
