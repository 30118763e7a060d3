"""DFT-protocol noise in the terms of the residual analysis (issue 5, item 2).

For a few stored snapshots per density, the ELF is recomputed with cheaper or more converged
settings — Γ only, 2×2×2, one step denser than the protocol mesh, and 40 Ry at the protocol mesh
— and each variant is compared with the stored protocol-v1 label exactly as a model prediction
would be (RMS, ξ, long-wave fraction, R², R² without long waves). Resumable: variant ELFs are
kept under data/protocol_noise_v1/ (outside the dataset, so they never enter a split).

    python scripts/protocol_noise.py [--per-density 2] [--json reports/protocol_noise.json]
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
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-density", type=int, default=2)
    parser.add_argument("--json", default=str(Path(__file__).resolve().parents[1] / "reports" / "protocol_noise.json"))
    args = parser.parse_args()
    rows = [r for r in index(ROOT / "fluid") if r.get("natoms") == 64]
    by_rs: dict[float, list[dict]] = {}
    for r in rows:
        by_rs.setdefault(r["rs"], []).append(r)
    profile = Profile.load()
    results = []
    for rs, group in sorted(by_rs.items()):
        for meta in random.Random(0).sample(group, min(args.per_density, len(group))):
            ref, _ = read_sample(meta["path"])
            for name, proto in variants(tuple(meta["kmesh"]), ref.shape).items():
                target = ROOT.parent / "protocol_noise_v1" / f"{meta['sample_id']}_{name}.h5"
                if not target.exists():
                    run = compute_elf(ref.atoms, profile, proto)
                    write_sample(target, run.field, {**run.meta, "sample_id": f"{meta['sample_id']}_{name}", "variant": name,
                                                     "phase": "protocol-noise", "of_sample": meta["sample_id"]})
                other, _ = read_sample(target)
                rep = residual_report(ref, other)
                results.append({"sample": meta["sample_id"], "rs": rs, "pressure_gpa": meta["pressure_gpa"], "variant": name,
                                **{k: rep[k] for k in ("rms", "xi", "xi_fit", "d_hh", "longwave_fraction", "r2", "r2_without_longwave")}})
                print(json.dumps(results[-1]))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
