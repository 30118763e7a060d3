"""Which structures a model's domain check takes in and which it flags: the cases a user meets first.

    python scripts/domain_check.py [MODEL ...] [--json]

For each model (default: the default model) and each structure: its density rs (bohr), shortest
H–H distance (Å), the out-of-domain score (``Predictor.domain``: ≤ 1 inside, growing outside) and
whether ``predict`` would flag it, against what a model of the whole dense-hydrogen domain should do:

- in domain: one H2 molecule in a 2-atom cell at rs 1.86 bohr (the dilute molecular limit), and the
  molecular crystals Pa-3 and P6₃/mmc relaxed at 20 GPa (dataset v2's ``solid_structures``);
- flagged: a dataset-v1 test frame compressed to rs 0.9 bohr and one expanded to rs 2.6 bohr (beyond
  either end of any training data).

The last column says whether the model does what is expected; a model trained on dataset v1 alone
flags the H2 cell and the 20 GPa crystals, which is right for it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from calibration_report import h2_cell, scaled

ROOT = Path(__file__).resolve().parents[1]
CRYSTALS = ROOT / "data" / "v2" / "solid_structures"


def cases() -> list[tuple[str, object, bool]]:
    """(label, structure, expected to be flagged) of every case."""
    from ase.io import read

    from geoelf.data.dataset import samples_of_split
    from geoelf.data.sample import read_sample
    from geoelf.units import wigner_seitz_rs

    fluid = read_sample(samples_of_split(ROOT / "data" / "v1", "test")[0])[0].atoms
    rs = wigner_seitz_rs(fluid.get_volume(), len(fluid))
    return [
        ("H2 molecule, 2-atom cell, rs 1.86", h2_cell(1.86), False),
        ("Pa-3 relaxed at 20 GPa", read(CRYSTALS / "Pa-3_20GPa.extxyz"), False),
        ("P6₃/mmc relaxed at 20 GPa", read(CRYSTALS / "P63mmc-molecular_20GPa.extxyz"), False),
        ("v1 test fluid compressed to rs 0.9", scaled(fluid, 0.9 - rs), True),
        ("v1 test fluid expanded to rs 2.6", scaled(fluid, 2.6 - rs), True),
    ]


def check(model: str | None) -> dict:
    """The domain check of ``model`` on every case: rows and whether all are as expected."""
    from geoelf.model.predict import Predictor
    from geoelf.neighbours import shortest_distance
    from geoelf.units import wigner_seitz_rs

    predictor = Predictor(model)
    rows = []
    for label, atoms, expected in cases():
        h = predictor.atom_state(atoms)
        flagged, notes, score = predictor.domain(atoms, predictor.net.invariant(h))
        rows.append({
            "structure": label,
            "atoms": len(atoms),
            "rs_bohr": wigner_seitz_rs(atoms.get_volume(), len(atoms)),
            "shortest_hh_A": shortest_distance(atoms, 2.0),
            "score": score,
            "flagged": flagged,
            "expected_flagged": expected,
            "notes": notes,
        })
    return {"model": predictor.name, "rows": rows, "as_expected": all(r["flagged"] == r["expected_flagged"] for r in rows)}


def table(doc: dict) -> str:
    lines = [f"{doc['model']}: the domain check as expected on every case: {'yes' if doc['as_expected'] else 'no'}", "",
             "| structure | atoms | rs (bohr) | shortest H–H (Å) | score | flagged | expected |",
             "|---|---|---|---|---|---|---|"]
    for r in doc["rows"]:
        lines.append(f"| {r['structure']} | {r['atoms']} | {r['rs_bohr']:.2f} | {r['shortest_hh_A']:.3f} | {r['score']:.2f} "
                     f"| {'yes' if r['flagged'] else 'no'} | {'flagged' if r['expected_flagged'] else 'in domain'} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=[None], help="model packages or shipped names (default: the default)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    docs = [check(m) for m in args.models]
    print(json.dumps(docs, indent=1) if args.json else "\n\n".join(table(d) for d in docs))


if __name__ == "__main__":
    main()
