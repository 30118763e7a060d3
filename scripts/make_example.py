"""Write the shipped example (structure + its DFT ELF) from one stored sample of dataset v1.

    python scripts/make_example.py data/v1/fluid/h64_rs1.33_T2800_s1111/h64_rs1.33_T2800_s1111_step000900.h5

The example must come from a test-split trajectory, so that `make demo` scores the shipped model
on a frame it never trained on. Writes src/geoelf/examples/<stem>.extxyz (the positions, with the
sample's trajectory, MD step, rs, temperature and DFT pressure in the comment line) and
<stem>.ELF.cube.gz (the label), where <stem> drops the seed and step: h64_rs1.33_T2800.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from ase.io import write as write_atoms

from geoelf.data.dataset import load_splits, split_of
from geoelf.data.sample import read_sample
from geoelf.io import write as write_field

EXAMPLES = Path(__file__).resolve().parents[1] / "src" / "geoelf" / "examples"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sample", type=Path, help="an HDF5 sample of dataset v1")
    parser.add_argument("--dataset", type=Path, default=Path("data/v1"))
    parser.add_argument("--out", type=Path, default=EXAMPLES)
    args = parser.parse_args()
    field, meta = read_sample(args.sample)
    split = split_of(meta, load_splits(args.dataset))
    if split != "test":
        raise SystemExit(f"{args.sample}: its trajectory is in split '{split}', not 'test'")
    stem = re.sub(r"_s\d+$", "", meta["trajectory"])
    atoms = field.atoms.copy()
    atoms.info = {"trajectory": meta["trajectory"], "md_step": int(meta["md_step"]),
                  "rs_bohr": float(meta["rs"]), "temperature_k": int(meta["temperature_k"]),
                  "pressure_gpa": round(float(meta["pressure_gpa"]), 2)}
    write_atoms(args.out / f"{stem}.extxyz", atoms, format="extxyz")
    write_field(field, str(args.out / f"{stem}.ELF.cube.gz"))
    print(f"wrote {args.out / stem}.extxyz and .ELF.cube.gz ({meta['trajectory']}, step {meta['md_step']}, "
          f"{meta['pressure_gpa']:.0f} GPa)")


if __name__ == "__main__":
    main()
