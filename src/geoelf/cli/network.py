"""geoelf network FILE: φ_1D/2D/3D, φ* by two methods, and the H network at an isovalue."""

from __future__ import annotations

import argparse

from geoelf.cli.common import add_input_options, elf_value, fmt, print_json, read_field


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE")
    add_input_options(p)
    p.add_argument("--isovalue", type=elf_value, help="isovalue of the H network, in [0, 1] (default: φ_3D)")
    p.add_argument("--json", action="store_true", help="print one JSON document (a list for several files)")


def analyse_file(args: argparse.Namespace, path: str) -> dict:
    from geoelf.topology.network import analyse, h_network, networking

    field = read_field(args, path)
    an = analyse(field)
    doc = networking(field, an)
    doc["h_network"] = h_network(field, args.isovalue, an)
    doc["h_network"].pop("file", None)
    return doc


def run(args: argparse.Namespace) -> int:
    docs = [analyse_file(args, path) for path in args.files]
    if args.json:
        print_json(docs[0] if len(docs) == 1 else docs)
        return 0
    for d in docs:
        cp, grid = d["methods"]["critical_points"], d["methods"]["grid"]
        print(d["file"])
        print(f"  {'':22s} {'φ_1D':>7s} {'φ_2D':>7s} {'φ_3D':>7s} {'φ*':>7s}")
        print(
            "  critical-point graph   "
            + " ".join(f"{fmt(cp[k], 3):>7s}" for k in ("phi_1d", "phi_2d", "phi_3d", "phi_star"))
        )
        print(
            "  grid percolation       "
            + " ".join(f"{fmt(grid[k], 3):>7s}" for k in ("phi_1d", "phi_2d", "phi_3d", "phi_star"))
        )
        print(
            "   ± grid spacing        "
            + " ".join(f"{fmt(grid['uncertainty'][k], 3):>7s}" for k in ("phi_1d", "phi_2d", "phi_3d", "phi_star"))
        )
        net = d["h_network"]
        fr = net["fractions"]
        print(
            f"  H network at ELF = {net['isovalue']:.3f}: {net['n_h']} H; "
            + ", ".join(f"{k} {100 * v:.0f}%" for k, v in fr.items() if v)
            + f"; largest cluster {net['largest_cluster']} H"
        )
        for pair in net["bonded_pairs"][:10]:
            print(
                f"    H{pair['i']}–H{pair['j']} {tuple(pair['shift'])}: "
                f"ELF {pair['elf']:.3f} at {pair['distance']:.3f} Å"
            )
        if len(net["bonded_pairs"]) > 10:
            print(f"    … {len(net['bonded_pairs']) - 10} more pairs (--json lists all)")
    return 0
