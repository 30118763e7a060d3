"""How well a model's uncertainty is calibrated, on data it was neither trained nor calibrated on.

    python scripts/calibration_report.py src/geoelf/models/dense-h-v1 --dataset data/v1 \
        --splits test test_large crystal --figures docs/uncertainty --card

For each split: `geoelf evaluate --dataset D --split S --model M --json` with the model's calibration
(``geoelf.analysis.evaluate``): the fraction of grid points with |pred − DFT| ≤ σ and ≤ 2σ, the
fraction of frames with |Δφ_3D| ≤ σ_φ and ≤ 2σ_φ, expected calibration errors, and how informative
σ_φ is. Then out of domain: every test frame compressed and expanded (rs ± 0.3 bohr) and an H2
molecule in a 2-atom cell, against the in-domain test frames (mean σ(x), σ_φ3D, out-of-domain score).
Writes reliability diagrams (PNG) and, with --card, the "Uncertainty" section of the model's card.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

SECTION = "## Uncertainty"


def evaluate_split(model, dataset: str, split: str, kept: Path | None = None) -> dict:
    """The evaluation of ``split`` of ``dataset`` with topology and σ coverage; ``kept``: a document
    that the model card kept for it, taken instead when it is the same run (``same_run``)."""
    from geoelf.analysis.evaluate import evaluate, references

    if kept is not None and kept.exists():
        doc = json.loads(kept.read_text())
        if same_run(doc, model, dataset, split):
            print(f"{split} of {dataset}: the card's evaluation, {kept}")
            return doc
    return evaluate(model, references(dataset=dataset, split=split), topology=True, uncertainty=True)


def same_run(doc: dict, model, dataset: str, split: str) -> bool:
    """Whether ``doc`` is what evaluating ``split`` with σ coverage would give now
    (``geoelf.analysis.evaluate.is_rerun``)."""
    from geoelf.analysis.evaluate import is_rerun
    from geoelf.data.dataset import samples_of_datasets

    paths = [str(p) for _, some in samples_of_datasets(dataset, split) for p in some]
    return is_rerun(doc, model, paths, uncertainty=True)


def scaled(atoms, rs_shift: float):
    """A copy of ``atoms`` with its cell and positions scaled to rs + rs_shift (bohr)."""
    from geoelf.units import wigner_seitz_rs

    rs = wigner_seitz_rs(atoms.get_volume(), len(atoms))
    out = atoms.copy()
    out.set_cell(atoms.cell.array * (rs + rs_shift) / rs, scale_atoms=True)
    return out


def h2_cell(rs: float = 1.86):
    """One H2 molecule (0.74 Å) in a cubic 2-atom cell at density rs (bohr)."""
    from ase import Atoms

    from geoelf.units import volume_per_atom

    a = (2 * volume_per_atom(rs)) ** (1 / 3)
    return Atoms("H2", positions=[[0, 0, 0], [0.74, 0, 0]], cell=[a, a, a], pbc=True)


def out_of_domain_rows(model, dataset: str, every: int) -> list[dict]:
    """Mean σ(x), σ_φ3D and the out-of-domain score of test frames as they are, compressed, expanded,
    and of an H2 cell."""
    from geoelf.data.dataset import samples_of_split
    from geoelf.data.sample import read_sample
    from geoelf.model.grids import dft_grid
    from geoelf.topology.network import analyse
    from geoelf.topology.uncertainty import frame_sigma

    c = model.calibration
    groups: dict[str, list] = {"test frames": [], "compressed (rs − 0.3)": [], "expanded (rs + 0.3)": []}
    for path in samples_of_split(dataset, "test")[::every]:
        atoms = read_sample(path)[0].atoms
        for label, shift in zip(groups, (0.0, -0.3, 0.3), strict=True):
            groups[label].append(atoms if shift == 0 else scaled(atoms, shift))
    groups["H2 in a 2-atom cell (rs 1.86)"] = [h2_cell()]
    rows = []
    for label, frames in groups.items():
        sig, phi, score = [], [], []
        for atoms in frames:
            pred = model.grid(atoms, dft_grid(atoms.cell.array), uncertainty=True)
            sig.append(float(pred.sigma.data.mean()))
            s = frame_sigma(analyse(pred.field, grid_26=False), pred.sigma, c.xi_A, c.samples, c.phi_scale)
            phi.append(s["phi_3d_sigma"])
            score.append(pred.ood_score)
        rows.append(
            {
                "frames": label,
                "n": len(frames),
                "sigma_mean": float(np.mean(sig)),
                "phi_3d_sigma": float(np.mean([p for p in phi if p is not None])) if any(phi) else None,
                "ood_score": float(np.mean(score)),
            }
        )
    return rows


def reliability_figure(docs: dict[str, dict], key: str, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 4.0), dpi=120)
    ax.plot([0, 1], [0, 1], color="0.6", lw=0.8, ls="--", label="calibrated")
    for split, doc in docs.items():
        agg = doc["aggregate"]
        curve = agg["coverage_curve"] if key == "points" else agg.get("phi_3d", {}).get("coverage_curve")
        if curve:
            ax.plot(agg["nominal"], curve, marker="o", ms=3, label=split)
    ax.set_xlabel("nominal coverage p (errors within z_p·σ)")
    ax.set_ylabel("observed coverage")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def pct(x) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def dataset_names(dataset: str | list[str] | None) -> str:
    """The dataset(s) of a calibration record, for the card's text."""
    if not dataset:
        return "the data"
    return " and ".join(f"`{d}`" for d in ([dataset] if isinstance(dataset, str) else dataset))


def dataset_options(dataset: str | list[str] | None) -> str:
    """The ``--dataset`` options that name the dataset(s) of a calibration record."""
    return " ".join(f"--dataset {d}" for d in ([dataset] if isinstance(dataset, str) else dataset or []))


def section(model, docs: dict[str, dict], ood: list[dict], figures: Path, command: str) -> list[str]:
    c = model.calibration
    fit = c.record["fitted_on"]
    lines = [
        SECTION,
        "",
        f"Every prediction can carry σ(x), the pointwise standard deviation of its error, and σ of φ_1D, φ_2D, φ_3D "
        f"and φ* (`--uncertainty`). The error model was fitted on {fit['frames']} frames of the "
        f"`{fit.get('split') or 'held-out'}` split of {dataset_names(fit.get('dataset'))} only "
        f"(`geoelf calibrate {dataset_options(fit.get('dataset'))} --split {fit.get('split')}`): a σ head on the network's "
        f"own features (scale {c.point_scale:.3f}), the residual's correlation length ξ = {c.xi_A:.3f} Å, and "
        f"{c.samples} correlated draws of the graph's saddle values for σ_φ (scale {c.phi_scale:.3f}). "
        "Judged on data used neither for training nor for calibration:",
        "",
        "| split | files | mean σ(x) | points within ±σ | within ±2σ | ECE (points) | frames with Δφ_3D within ±σ_φ "
        "| within ±2σ_φ | ECE (φ_3D) | median σ_φ3D | misses (Δφ_3D beyond ±0.02) in the top quarter of σ_φ |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for split, doc in docs.items():
        a = doc["aggregate"]
        p = a.get("phi_3d", {})
        lines.append(
            f"| {split} | {len(doc['files'])} | {a['sigma_mean']:.4f} | {pct(a['within_1sigma'])} | "
            f"{pct(a['within_2sigma'])} | {a['ece']:.3f} | {pct(p.get('within_1sigma'))} | "
            f"{pct(p.get('within_2sigma'))} | {p.get('ece', float('nan')):.3f} | {p.get('sigma_median', float('nan')):.4f} | "
            f"{pct(p.get('top_quarter_share_of_misses'))} |"
        )
    lines += [
        "",
        f"Command: `{command}`.",
        "",
        f"Reliability diagrams (observed against nominal coverage): `{figures}/reliability_points.png` (σ(x)) and "
        f"`{figures}/reliability_phi.png` (σ_φ3D); the numbers in `{figures}/calibration.json`.",
        "",
        "Out of the training domain σ grows with the out-of-domain score (≤ 1 inside the domain; σ × score beyond, at most 1):",
        "",
        "| frames | n | mean σ(x) | mean σ_φ3D | out-of-domain score |",
        "|---|---|---|---|---|",
    ]
    for r in ood:
        phi = "–" if r["phi_3d_sigma"] is None else f"{r['phi_3d_sigma']:.4f}"
        lines.append(f"| {r['frames']} | {r['n']} | {r['sigma_mean']:.4f} | {phi} | {r['ood_score']:.2f} |")
    return [*lines, ""]


def card_document(args: argparse.Namespace, spec: str) -> Path | None:
    """Where scripts/model_card.py keeps the model's evaluation of split ``spec`` (with --reuse-card)."""
    if not args.reuse_card:
        return None
    from model_card import model_label, split_dataset

    return Path(args.model) / "evaluation" / f"{model_label(args.model)}_{split_dataset(spec, args.dataset)[2]}.json"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--dataset", default="data/v1")
    parser.add_argument("--splits", nargs="+", default=["test", "test_large", "crystal"],
                        help="splits of --dataset, or of another dataset as DATASET:NAME (data/v2:test)")
    parser.add_argument("--figures", type=Path, default=Path("docs/uncertainty"))
    parser.add_argument("--ood-every", type=int, default=10, help="every Nth test frame for the out-of-domain rows")
    parser.add_argument("--card", action="store_true", help="write the section into the model's MODEL_CARD.md")
    parser.add_argument("--reuse-card", action="store_true",
                        help="take a split's evaluation from the card's (scripts/model_card.py, the package's "
                             "evaluation/ folder) where it is the same run: same provenance and files")
    args = parser.parse_args()
    from geoelf.model.predict import Predictor

    model = Predictor(args.model)
    if model.calibration is None:
        raise SystemExit(f"{args.model}: no calibration (geoelf calibrate first)")
    from geoelf.data.dataset import split_spec

    docs = {spec: evaluate_split(model, *split_spec(spec, args.dataset), card_document(args, spec)) for spec in args.splits}
    ood = out_of_domain_rows(model, args.dataset, args.ood_every)
    args.figures.mkdir(parents=True, exist_ok=True)
    reliability_figure(docs, "points", args.figures / "reliability_points.png", "σ(x): grid points")
    reliability_figure(docs, "phi", args.figures / "reliability_phi.png", "σ_φ3D: frames")
    summary = {s: d["aggregate"] for s, d in docs.items()}
    (args.figures / "calibration.json").write_text(json.dumps({"splits": summary, "out_of_domain": ood}, indent=1))
    command = f"python scripts/calibration_report.py {args.model} --dataset {args.dataset} --splits {' '.join(args.splits)}"
    lines = section(model, docs, ood, args.figures, command)
    print("\n".join(lines))
    if args.card:
        card = Path(args.model) / "MODEL_CARD.md"
        text = card.read_text()
        body = "\n".join(lines)
        head, _, rest = text.partition(SECTION)
        tail = rest[rest.find("\n## ") :] if rest and rest.find("\n## ") >= 0 else ""
        card.write_text(head.rstrip() + "\n\n" + body + tail)


if __name__ == "__main__":
    main()
