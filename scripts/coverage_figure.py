"""The (pressure, temperature) points that datasets cover, coloured by the DFT ELF's φ_3D.

    python scripts/coverage_figure.py data/v1 data/v2 --out docs/data/pt_coverage.png

Each sample is a point at its DFT pressure (static ions) and MD temperature — fluid as circles
(v1) and squares (v2), thermal solids as stars, heterogeneous cells (defects, two phases) as
diamonds; relaxed crystals sit at 0 K. φ_3D is computed from each sample's own DFT ELF with the same
analysis as `geoelf network` (critical-point graph); the values are kept in a JSON cache beside the
figure (by sample path and file sha256), so a rerun only analyses new samples.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from geoelf.data.dataset import HETEROGENEOUS


def phi_of_samples(roots: list[Path], cache_path: Path) -> list[dict]:
    """One record per sample: dataset, phase, pressure (GPa), temperature (K), φ_3D of its DFT ELF."""
    from geoelf.data.dataset import find_samples
    from geoelf.data.sample import read_sample
    from geoelf.provenance import file_sha256
    from geoelf.topology.network import analyse

    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    records = []
    for root in roots:
        for path in find_samples(root):
            key = str(path)
            digest = file_sha256(path)
            if key not in cache or cache[key]["sha256"] != digest:
                field, meta = read_sample(path)
                phi = analyse(field, grid_26=False).graph_phi.phi_3d
                cache[key] = {
                    "sha256": digest,
                    "dataset": root.name,
                    "phase": meta.get("phase"),
                    "pressure_gpa": meta.get("pressure_gpa"),
                    "temperature_k": meta.get("temperature_k") or 0,
                    "phi_3d": None if phi != phi else float(phi),
                }
            records.append(cache[key])
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    cache_path.write_text(json.dumps(cache, indent=0, sort_keys=True))
    return records


FLUID_MARKERS = {"v1": "o", "v2": "s"}
KINDS = {"fluid": ("o", 18), "solids": ("*", 60), "heterogeneous": ("D", 30)}  # (marker, size)


def kind_of(phase: str | None) -> str:
    """The group a sample is drawn in: fluid, solids (crystals and thermal solids) or heterogeneous cells."""
    if phase == "fluid":
        return "fluid"
    return "heterogeneous" if phase in HETEROGENEOUS else "solids"


def draw(records: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=130)
    shown = [r for r in records if r["pressure_gpa"] and r["phi_3d"] is not None]
    scatter = None
    for name in sorted({r["dataset"] for r in shown}):
        for kind in KINDS:
            rows = [r for r in shown if r["dataset"] == name and kind_of(r["phase"]) == kind]
            if not rows:
                continue
            marker, size = KINDS[kind] if kind != "fluid" else (FLUID_MARKERS.get(name, "^"), 18)
            scatter = ax.scatter(
                [r["pressure_gpa"] for r in rows],
                [r["temperature_k"] for r in rows],
                c=[r["phi_3d"] for r in rows],
                cmap="viridis",
                vmin=0.2,
                vmax=0.8,
                marker=marker,
                s=size,
                edgecolors="k",
                linewidths=0.3,
                label=f"dataset {name}{'' if kind == 'fluid' else ' ' + kind} ({len(rows)})",
            )
    ax.set_xscale("log")
    ax.set_xlabel("DFT pressure (GPa, static ions)")
    ax.set_ylabel("temperature (K)")
    ax.legend(fontsize=7, loc="upper left")
    if scatter is not None:
        fig.colorbar(scatter, ax=ax, label="φ_3D of the DFT ELF")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("datasets", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("docs/data/pt_coverage.png"))
    args = parser.parse_args()
    records = phi_of_samples(args.datasets, args.out.with_suffix(".json"))
    draw(records, args.out)
    print(f"{args.out}: {len(records)} samples")


if __name__ == "__main__":
    main()
