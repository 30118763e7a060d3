"""The protocol's pseudopotential at the shortest H–H distances of dataset v2, against a harder one.

Protocol v1 labels with the norm-conserving H_HSCV_PBE-1.0 (core radius 0.5 bohr = 0.26 Å) at 60 Ry.
In the densest cells of v2 two protons come closer than twice that radius, where the cores overlap.
This recomputes the snapshots with the shortest H–H distances among v2's densest fluid with Quantum
ESPRESSO's bare Coulomb potential (H.coulomb-ae.UPF: no pseudisation at all) at high cutoffs, and
compares each with its stored label as a model prediction would be: R², MAE and largest |Δ| over
all grid points, and over the points farther than --core Å from every proton (inside it the two
potentials differ by construction and the ELF is near 1 in both). The runs use an FFT grid twice
the label's along each axis (every other point lands on the label's) and the label's k-points.
Resumable: the ELFs are kept under data/pseudo_check_v2/ (outside the dataset, never in a split).
The first snapshot runs at every cutoff of --cutoffs (the reference's own convergence), the others
at the highest; ``--also-rs`` adds one snapshot at each lower density asked (the same comparison
where the cores do not overlap).

    python scripts/pseudopotential_check.py [--samples 3] [--cutoffs 100 150] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from geoelf.analysis.compare import metrics
from geoelf.data.dataset import index
from geoelf.data.sample import read_sample, write_sample
from geoelf.dft.elf import compute_elf
from geoelf.dft.profile import PSEUDO_H, Profile
from geoelf.dft.protocol import ElfProtocol
from geoelf.neighbours import neighbour_pairs, shortest_distance

ROOT = Path(__file__).resolve().parents[1] / "data"
COULOMB = "H.coulomb-ae.UPF"
QE_PSEUDO_FOLDERS = (Path("/usr/share/espresso/pseudo"), Path("/usr/share/quantum-espresso/pseudo"))


def closest_contacts(rows: list[dict], count: int) -> list[dict]:
    """The ``count`` snapshots of ``rows`` with the shortest H–H distances (``d_hh`` added)."""
    for r in rows:
        r["d_hh"] = shortest_distance(read_sample(r["path"])[0].atoms, 1.5)
    return sorted(rows, key=lambda r: r["d_hh"])[:count]


def densest_snapshots(count: int) -> list[dict]:
    """The ``count`` 64-atom fluid snapshots of v2's densest conditions with the shortest H–H distances."""
    rows = [r for r in index(ROOT / "v2" / "fluid") if r.get("natoms") == 64]
    if not rows:
        raise SystemExit(f"no 64-atom fluid samples under {ROOT / 'v2' / 'fluid'}")
    densest = min(r["rs"] for r in rows)
    return closest_contacts([r for r in rows if r["rs"] <= densest + 0.08], count)


def snapshot_at(rs: float) -> dict:
    """The 64-atom fluid snapshot of datasets v1 and v2 at ``rs`` with the shortest H–H distance."""
    rows = [r for v in ("v1", "v2") for r in index(ROOT / v / "fluid") if r.get("natoms") == 64 and r["rs"] == rs]
    if not rows:
        raise SystemExit(f"no 64-atom fluid snapshot at rs {rs}")
    return closest_contacts(rows, 1)[0]


def coulomb_profile() -> Profile:
    """The machine's profile with a pseudo folder holding both the protocol's file and the Coulomb one."""
    profile = Profile.load()
    source = next((f / COULOMB for f in QE_PSEUDO_FOLDERS if (f / COULOMB).is_file()), None)
    if source is None:
        raise SystemExit(f"{COULOMB} not found (apt-get install quantum-espresso-data)")
    folder = Path(tempfile.mkdtemp(prefix="geoelf-pseudo-"))
    shutil.copy(profile.pseudo_folder() / PSEUDO_H, folder)
    shutil.copy(source, folder)
    return replace(profile, pseudo_dir=str(folder))


def far_from_protons(field, core: float) -> np.ndarray:
    """Mask of the grid points (flat, C order) farther than ``core`` Å from every proton."""
    n0, n1, n2 = field.shape
    frac = np.stack(np.meshgrid(np.arange(n0) / n0, np.arange(n1) / n1, np.arange(n2) / n2, indexing="ij"), -1)
    points = frac.reshape(-1, 3) @ field.atoms.cell.array
    near, _, _ = neighbour_pairs(points, field.atoms.positions, field.atoms.cell.array, core)
    mask = np.ones(len(points), dtype=bool)
    mask[near] = False
    return mask


def compare(label, other, core: float) -> dict:
    """The metrics of ``other`` against the label, on all points and away from the protons."""
    step = tuple(a // b for a, b in zip(other.shape, label.shape, strict=True))
    values = other.data[:: step[0], :: step[1], :: step[2]].ravel()
    reference = label.data.ravel()
    far = far_from_protons(label, core)
    everywhere, away = metrics(reference, values), metrics(reference[far], values[far])
    return {
        "r2": everywhere["r2"],
        "mae": everywhere["mae"],
        "max_abs": everywhere["max_abs"],
        "r2_far": away["r2"],
        "mae_far": away["mae"],
        "max_abs_far": away["max_abs"],
        "far_fraction": float(far.mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--cutoffs", type=float, nargs="+", default=[100.0, 150.0], help="Ry")
    parser.add_argument("--core", type=float, default=0.3, help="Å: points closer to a proton are compared apart")
    parser.add_argument("--also-rs", type=float, nargs="*", default=[], help="one snapshot at each of these rs too")
    parser.add_argument("--json", default=str(ROOT.parent / "reports" / "pseudopotential_check.json"))
    args = parser.parse_args()
    profile = coulomb_profile()
    out_dir = ROOT / "pseudo_check_v2"
    results = []
    for n, meta in enumerate(densest_snapshots(args.samples) + [snapshot_at(rs) for rs in args.also_rs]):
        label, _ = read_sample(meta["path"])
        for cutoff in args.cutoffs if n == 0 else args.cutoffs[-1:]:
            name = f"coulomb{cutoff:g}"
            target = out_dir / f"{meta['sample_id']}_{name}.h5"
            if not target.exists():
                protocol = ElfProtocol(
                    id=f"pseudo-check-{name}",
                    pseudo=COULOMB,
                    ecutwfc=cutoff,
                    fixed_kmesh=tuple(meta["kmesh"]),
                    fft_grid=tuple(2 * s for s in label.shape),
                )
                run = compute_elf(label.atoms, profile, protocol)
                write_sample(
                    target,
                    run.field,
                    {**run.meta, "sample_id": target.stem, "phase": "pseudo-check", "of_sample": meta["sample_id"]},
                )
            other, other_meta = read_sample(target)
            results.append(
                {
                    "sample": meta["sample_id"],
                    "rs": meta["rs"],
                    "temperature_k": meta.get("temperature_k"),
                    "pressure_gpa": meta["pressure_gpa"],
                    "d_hh": meta["d_hh"],
                    "pseudo": COULOMB,
                    "ecutwfc_ry": cutoff,
                    "seconds_scf": other_meta.get("seconds_scf"),
                    **compare(label, other, args.core),
                }
            )
            print(json.dumps(results[-1]))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
