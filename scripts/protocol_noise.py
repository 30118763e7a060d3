"""DFT-protocol noise in the terms of the residual analysis.

For a few stored snapshots per density, the ELF is recomputed with cheaper or more converged
settings — Γ only, 2×2×2, one step denser than the protocol mesh, 40 Ry at the protocol mesh,
and (for fewer snapshots: it is the costly one) 80 Ry — and each variant is compared with the
stored protocol-v1 label exactly as a model prediction would be (RMS, ξ, long-wave fraction, R²,
R² without long waves). Every variant lands on the label's grid points: 40 Ry runs on the 60 Ry
FFT grid, and 80 Ry on a grid twice as fine along each axis, of which every other point is taken.
Resumable: variant ELFs are kept under data/protocol_noise_v1/ (outside the dataset, so they never
enter a split), and snapshots that already have variants there are chosen again first.

    python scripts/protocol_noise.py [--per-density 2] [--high-cutoff 1] [--json reports/protocol_noise.json]
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import replace
from pathlib import Path

from geoelf.analysis.residuals import residual_report
from geoelf.data.dataset import index
from geoelf.data.sample import read_sample, write_sample
from geoelf.dft.elf import compute_elf
from geoelf.dft.profile import Profile
from geoelf.dft.protocol import ElfProtocol
from geoelf.field import Field

ROOT = Path(__file__).resolve().parents[1] / "data" / "v1"


def variants(protocol_mesh: tuple[int, int, int], grid: tuple[int, int, int]) -> dict[str, ElfProtocol]:
    """The settings compared with the label; all on the label's FFT grid (40 Ry would pick a coarser one)."""
    base = ElfProtocol(fft_grid=grid)
    denser = tuple(n + 1 for n in protocol_mesh)
    return {
        "gamma": replace(base, fixed_kmesh=(1, 1, 1)),
        "k2": replace(base, fixed_kmesh=(2, 2, 2)),
        f"k{denser[0]}": replace(base, fixed_kmesh=denser),
        "ecut40": replace(base, ecutwfc=40.0, fixed_kmesh=protocol_mesh),
        "ecut80": replace(base, ecutwfc=80.0, fixed_kmesh=protocol_mesh, fft_grid=tuple(2 * n for n in grid)),
    }


def chosen_samples(group: list[dict], count: int, done: set[str]) -> list[dict]:
    """``count`` snapshots of one density: those with variants on disk first (so a rerun on a grown
    dataset reuses them), then a seeded random pick of the rest."""
    group = sorted(group, key=lambda r: r["sample_id"])
    again = [r for r in group if r["sample_id"] in done]
    rest = [r for r in group if r["sample_id"] not in done]
    return (again + random.Random(0).sample(rest, max(0, min(count - len(again), len(rest)))))[:count]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-density", type=int, default=2)
    parser.add_argument("--high-cutoff", type=int, default=1, help="snapshots per density that also get the 80 Ry variant")
    parser.add_argument("--json", default=str(Path(__file__).resolve().parents[1] / "reports" / "protocol_noise.json"))
    args = parser.parse_args()
    rows = [r for r in index(ROOT / "fluid") if r.get("natoms") == 64]
    by_rs: dict[float, list[dict]] = {}
    for r in rows:
        by_rs.setdefault(r["rs"], []).append(r)
    profile = Profile.load()
    out_dir = ROOT.parent / "protocol_noise_v1"
    done = {p.stem.rsplit("_", 1)[0] for p in out_dir.glob("*.h5")}
    results = []
    for rs, group in sorted(by_rs.items()):
        for n, meta in enumerate(chosen_samples(group, args.per_density, done)):
            ref, _ = read_sample(meta["path"])
            for name, proto in variants(tuple(meta["kmesh"]), ref.shape).items():
                target = out_dir / f"{meta['sample_id']}_{name}.h5"
                if name == "ecut80" and n >= args.high_cutoff and not target.exists():
                    continue
                if not target.exists():
                    run = compute_elf(ref.atoms, profile, proto)
                    write_sample(target, run.field, {**run.meta, "sample_id": f"{meta['sample_id']}_{name}", "variant": name,
                                                     "phase": "protocol-noise", "of_sample": meta["sample_id"]})
                other, _ = read_sample(target)
                if other.shape != ref.shape:  # a finer grid holds the label's points at every step-th index
                    step = tuple(a // b for a, b in zip(other.shape, ref.shape))
                    other = Field(other.data[:: step[0], :: step[1], :: step[2]], other.atoms, other.name, other.meta)
                rep = residual_report(ref, other)
                results.append({"sample": meta["sample_id"], "rs": rs, "pressure_gpa": meta["pressure_gpa"], "variant": name,
                                **{k: rep[k] for k in ("rms", "xi", "xi_fit", "d_hh", "longwave_fraction", "r2", "r2_without_longwave")}})
                print(json.dumps(results[-1]))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
