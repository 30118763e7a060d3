"""geoelf topology FILE: all critical points of the ELF, Morse sum, bond connectivity."""

from __future__ import annotations

import argparse

from geoelf.cli.common import add_input_options, fmt, print_json, read_field


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE")
    add_input_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON document")


def run(args: argparse.Namespace) -> int:
    from geoelf.topology.network import analyse
    from geoelf.topology.report import topology_document

    field = read_field(args, args.file)
    doc = topology_document(analyse(field))
    if args.json:
        print_json(doc)
        return 0
    c = doc["counts"]
    print(f"{args.file}")
    print(f"  maxima {c['max']}  bond {c['bond']}  ring {c['ring']}  cage {c['cage']}   Morse sum {doc['morse_sum']}")
    merged = doc["merged"]
    print(
        f"  merged into nuclear attractors: {sum(merged.values())} points "
        f"({', '.join(f'{k} {v}' for k, v in merged.items())})"
    )
    print(f"  {'kind':5s} {'value':>8s}  {'frac a':>8s} {'frac b':>8s} {'frac c':>8s}  label / joins")
    for p in doc["points"]:
        extra = p.get("label", "")
        if "symbols" in p:
            extra += " " + "+".join(f"{s}{a}" for s, a in zip(p["symbols"], p["atoms"]))
        if "joins" in p:
            extra = f"{p['joins'][0]} – {p['joins'][1]} {tuple(p['translation'])}"
        print(f"  {p['kind']:5s} {fmt(p['value'])}  " + " ".join(f"{x:8.4f}" for x in p["frac"]) + f"  {extra}")
    return 0
