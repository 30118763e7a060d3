"""geoelf info FILE: structure, grid, value range and spacing."""

from __future__ import annotations

import argparse

from geoelf.cli.common import add_input_options, print_json, read_field


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE")
    add_input_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON document")


def describe(field) -> dict:
    import numpy as np

    from geoelf.units import wigner_seitz_rs

    atoms = field.atoms
    cellpar = atoms.cell.cellpar()
    vol = field.volume
    n_h = int(np.sum(atoms.numbers == 1))
    doc = {
        "file": field.meta.get("source"),
        "format": field.meta.get("format"),
        "formula": atoms.get_chemical_formula(),
        "natoms": len(atoms),
        "cell_A": field.cell.tolist(),
        "cell_lengths_A": cellpar[:3].tolist(),
        "cell_angles_deg": cellpar[3:].tolist(),
        "volume_A3": vol,
        "grid": list(field.shape),
        "spacing_A": field.spacing.tolist(),
        "min": float(field.data.min()),
        "max": float(field.data.max()),
        "mean": float(field.data.mean()),
    }
    if n_h and n_h == len(atoms):
        # Wigner–Seitz radius of the protons, bohr: (3V / 4πN)^(1/3)
        doc["rs_bohr"] = wigner_seitz_rs(vol, n_h)
    return doc


def run(args: argparse.Namespace) -> int:
    docs = [describe(read_field(args, path, elf=False)) for path in args.files]
    if args.json:
        print_json(docs[0] if len(docs) == 1 else docs)
        return 0
    for d in docs:
        print(f"{d['file']}  ({d['format']})")
        print(
            f"  structure  {d['formula']}, {d['natoms']} atoms, volume {d['volume_A3']:.4f} Å³"
            + (f", rs = {d['rs_bohr']:.3f} bohr" if "rs_bohr" in d else "")
        )
        print(
            "  cell       a, b, c = "
            + ", ".join(f"{x:.5f}" for x in d["cell_lengths_A"])
            + " Å;  α, β, γ = "
            + ", ".join(f"{x:.3f}" for x in d["cell_angles_deg"])
            + "°"
        )
        print(
            "  grid       "
            + " × ".join(map(str, d["grid"]))
            + "   spacing "
            + ", ".join(f"{x:.4f}" for x in d["spacing_A"])
            + " Å"
        )
        print(f"  values     min {d['min']:.6g}   max {d['max']:.6g}   mean {d['mean']:.6g}")
    return 0
