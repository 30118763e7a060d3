"""Write a model package's MODEL_CARD.md from `geoelf evaluate --json` runs, baselines beside it.

    python scripts/model_card.py MODEL_DIR --dataset data/v1 --splits test crystal \
        --baseline promolecular [--baseline runs/elfnet-cnn/model] --run runs/dense-h-v1 \
        [--status "..."] [--notes notes.md]

A split is a name in the dataset's splits.json, DATASET:NAME for a split of another dataset
(e.g. 'data/v2:test'), or NAME=GLOB[,GLOB...] over sample files
(e.g. 'test=data/v1/fluid/h64_rs1.33_T2800_s111/*.h5').

With ``--targets FILE`` (e.g. ``configs/dense-h-v2-targets.yaml``) the card opens with a table of
the model's targets — each split's pooled R² and share of frames with φ_3D within 0.02, or the worst
sampling condition's — against what was measured, and how many are met.

Every figure in the card comes from an evaluate run whose exact command is printed beside it;
the JSON documents are kept next to the card (``evaluation/<model>_<split>.json``) so the numbers
can be checked without rerunning.
"""

from __future__ import annotations

import argparse
import glob
import json
import shlex
from pathlib import Path


def split_files(split: str) -> tuple[str, list[str], str]:
    """(name, files, as written) of a split given as NAME=GLOB[,GLOB...] over sample files; ([], "") otherwise."""
    if "=" not in split:
        return split, [], ""
    name, pattern = split.split("=", 1)
    files = sorted(f for g in pattern.split(",") for f in glob.glob(g))
    if not files:
        raise SystemExit(f"no files match {pattern}")
    return name, files, pattern


def split_dataset(split: str, dataset: str) -> tuple[str, str, str]:
    """(dataset folder, split name, the name its documents are kept under) of a split given as NAME
    (of ``dataset``) or DATASET:NAME; the kept name carries the dataset's folder name when it was given
    (``v2-test``), so the test splits of two datasets do not share a file."""
    from geoelf.data.dataset import split_spec

    if "=" in split or ":" not in split:
        return dataset, split, split_files(split)[0]
    folder, name = split_spec(split, dataset)
    return folder, name, f"{Path(folder).name}-{name}"


def evaluate(model: str, dataset: str, split: str, topology: bool, reuse: list[Path] | None = None) -> tuple[dict, str]:
    """`geoelf evaluate` (``geoelf.analysis.evaluate``) on a dataset split or on NAME=GLOB; returns the JSON document and the command.
    ``reuse``: earlier cards' ``evaluation`` folders; the first document there for this model and split
    is taken instead of a rerun (baselines, whose figures do not change from one model version to the
    next) when it is what a rerun would give: the same provenance (geoelf version, weights, calibration,
    options) and the same files in the same order; a split or calibration that has changed is evaluated again."""
    from geoelf.analysis.evaluate import evaluate as evaluate_model
    from geoelf.analysis.evaluate import is_rerun, references
    from geoelf.data.dataset import samples_of_datasets
    from geoelf.model.baselines import get_model

    dataset, split, kept_name = split_dataset(split, dataset)
    _, files, pattern = split_files(split)
    options = ["--model", model, "--json"] + ([] if topology else ["--no-topology"])
    where = files or ["--dataset", dataset, "--split", split]
    # the glob is shown unexpanded, as a user would type it
    shown = f"geoelf evaluate {pattern.replace(',', ' ')} {shlex.join(options)}" if files else shlex.join(["geoelf", "evaluate", *where, *options])
    paths = files or [str(p) for _, some in samples_of_datasets(dataset, split) for p in some]
    loaded = get_model(model)
    stale = []
    for folder in reuse or []:
        kept = folder / f"{model_label(model)}_{kept_name}.json"
        if kept.exists():
            doc = json.loads(kept.read_text())
            if is_rerun(doc, loaded, paths, topology):
                return doc, f"{shown}   # from {kept}"
            stale.append(str(kept))
    if stale:
        print(f"{', '.join(stale)}: made with another model, calibration or files than {kept_name} has now; "
              "evaluated again")
    doc = evaluate_model(loaded, references(paths), topology=topology)
    return json.loads(json.dumps(doc)), shown  # as `geoelf evaluate --json` prints it


def reused_evaluation(out_dir: Path, weights_hash: str) -> Path:
    """The model's evaluation folder, if its documents were made with these weights; exits otherwise."""
    kept = out_dir / "weights.sha256"
    if not kept.exists() or kept.read_text().strip() != weights_hash:
        raise SystemExit(f"{out_dir}: its documents were not made with these weights; run the card without --reuse-model")
    return out_dir


def model_label(model: str) -> str:
    """The name `geoelf evaluate` reports for a model: a package's config name, else what was given."""
    config = Path(model) / "config.json"
    return json.loads(config.read_text()).get("name", Path(model).name) if config.exists() else model


def metrics_row(name: str, doc: dict) -> str:
    a = doc["aggregate"]
    phi = a.get("phi_3d_within_0.02")
    cps = a.get("cp_matched_fraction")
    cell = lambda v, f: "–" if v is None else format(v, f)  # noqa: E731
    return (f"| {name} | {len(doc['files'])} | {a['r2']:.5f} | {a['mae']:.4f} | {a['rmse']:.4f} | {a['max_abs']:.3f} | "
            f"{a['w1']:.4f} | {cell(phi, '.0%')} | {cell(cps, '.1%')} | {a['seconds_predict_median']:.2f} |")


def pressure_rows(doc: dict) -> list[str]:
    return [f"| {name} | {b['files']} | {b['r2']:.5f} | {b['mae']:.4f} | {b['rmse']:.4f} |" for name, b in doc["by_pressure"].items()]


def condition_rows(doc: dict) -> list[str]:
    """A row per sampling condition (``geoelf.data.dataset.condition_of``): pooled R², MAE and the share
    of frames with φ_3D within 0.02; none where the split holds one condition only."""
    groups = doc.get("by_condition", {})
    if len(groups) < 2:
        return []
    cell = lambda v: "–" if v is None else format(v, ".0%")  # noqa: E731
    return [f"| {name} | {b['files']} | {b['r2']:.5f} | {b['mae']:.4f} | {cell(b.get('phi_3d_within_0.02'))} |"
            for name, b in groups.items()]


def file_rows(doc: dict) -> list[str]:
    rows = []
    for f in doc["files"]:
        dphi = None if f.get("phi_3d_pred") is None or f.get("phi_3d_ref") is None else f["phi_3d_pred"] - f["phi_3d_ref"]
        phi = ["–" if f.get(k) is None else format(f[k], ".3f") for k in ("phi_3d_ref", "phi_3d_pred")]  # none: no 3D network
        rows.append(f"| {Path(f['path']).stem} | {f['r2']:.5f} | {f['mae']:.4f} | {f['max_abs']:.3f} | {phi[0]} | {phi[1]} | "
                    f"{'–' if dphi is None else format(dphi, '+.3f')} | {f.get('cp_matched', '–')}/{f.get('cp_ref', '–')} |")
    return rows


def targets_section(targets: list[dict], docs: dict[str, dict]) -> list[str]:
    """The card's table of targets: each split's targets against its evaluation (``docs``: the model's
    document by split as given to --splits)."""
    from geoelf.analysis.targets import target_rows

    lines = ["## Targets", "", "| split | measure | target | measured | met |", "|---|---|---|---|---|"]
    met = []
    for target in targets:
        doc = docs.get(target["split"])
        if doc is None:
            raise SystemExit(f"target on split {target['split']!r}, which --splits does not evaluate")
        for row in target_rows(target, doc):
            lines.append(f"| `{target['split']}` | {row.measure} | {row.goal} | {row.measured} | {'yes' if row.met else '**no**'} |")
            met.append(row.met)
    lines += ["", f"{sum(met)} of {len(met)} targets met.", ""]
    return lines


def kept_section(card: Path, heading: str) -> list[str]:
    """The card's section under ``heading`` as it stands (kept when the rest of the card is rewritten:
    the "## Uncertainty" that `scripts/calibration_report.py --card` wrote, or the "## Training" of a run
    that is not here); empty if there is none."""
    text = card.read_text() if card.exists() else ""
    if f"\n{heading}\n" not in text:
        return []
    section = f"{heading}\n" + text.split(f"\n{heading}\n", 1)[1]
    return section.split("\n## ", 1)[0].rstrip().split("\n") + [""]


def training_section(run: Path | None, card: Path) -> list[str]:
    """The training run's facts from its checkpoint, or the card's own section when the run is not here."""
    if run is None or not (run / "checkpoint.json").exists():
        return kept_section(card, "## Training")
    state = json.loads((run / "checkpoint.json").read_text())
    cfg = state.get("config", {})
    last = state["history"][-1] if state.get("history") else {}
    best = min(state.get("history", [{}]), key=lambda h: h.get("val_mae", 1e9))
    return ["## Training", "",
            f"- Config: `{cfg.get('name')}` with data `{' + '.join(d) if isinstance(d := cfg.get('data'), list) else d}`, train split `{cfg.get('train_split')}`, "
            f"validation split `{cfg.get('val_split')}`, seed {cfg.get('seed')}.",
            f"- Network: `{json.dumps(cfg.get('net'))}`.",
            f"- {state['step']} steps of {cfg.get('batch_structures')} structures × {cfg.get('probes_per_structure')} random grid "
            f"points, Adam, lr {cfg.get('lr')} → {cfg.get('lr_final')} (exponential), {state.get('seconds', 0) / 60:.0f} min on "
            f"{cfg.get('threads') or 'all'} CPU thread(s).",
            f"- Best validation (kept): step {best.get('step')}, MAE {best.get('val_mae', float('nan')):.4f}, "
            f"R² {best.get('val_r2', float('nan')):.5f}; last: step {last.get('step')}, MAE {last.get('val_mae', float('nan')):.4f}.", ""]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--dataset", default="data/v1")
    parser.add_argument("--splits", nargs="+", default=["test", "crystal"], help="split names or NAME=GLOB")
    parser.add_argument("--baseline", action="append", default=[])
    parser.add_argument("--run", type=Path, help="the training run folder (checkpoint.json, config)")
    parser.add_argument("--status", default="")
    parser.add_argument("--notes", type=Path, help="markdown appended as 'Limits and notes'")
    parser.add_argument("--targets", type=Path,
                        help="YAML list of targets ({split, r2, phi_within, every_condition}), tabled after the training")
    parser.add_argument("--reuse-baselines", type=Path, metavar="EVALUATION_DIR", action="append", default=[],
                        help="take the baselines' documents from an earlier card's evaluation folder where present "
                             "(repeat for several: the first that holds a document gives it)")
    parser.add_argument("--reuse-model", action="store_true",
                        help="take the model's own documents from its evaluation folder (to rewrite "
                             "the card's text without re-evaluating); refused unless they were made with the same weights")
    args = parser.parse_args()
    folder = Path(args.model)
    config = json.loads((folder / "config.json").read_text())
    name = config.get("name", folder.name)
    out_dir = folder / "evaluation"
    card = folder / "MODEL_CARD.md"
    out_dir.mkdir(exist_ok=True)
    from geoelf.provenance import file_sha256

    weights_hash = file_sha256(folder / "weights.safetensors")
    own_reuse = reused_evaluation(out_dir, weights_hash) if args.reuse_model else None
    lines = [f"# {name}", ""]
    if args.status:
        lines += [args.status, ""]
    dom = config.get("domain", {})
    lines += ["Geometry-based ELF of dense hydrogen: ProbeNet (probe-point message passing, exactly invariant to "
              "rotations, lattice translations and permutations), hydrogen only.", "",
              f"- Protocol of the labels: `{config.get('protocol_id')}` (QE 6.7, PBE, 60 Ry, k-spacing 0.45 Å⁻¹).",
              f"- Training domain: rs {dom.get('rs_range', ['?', '?'])[0]:.2f}–{dom.get('rs_range', ['?', '?'])[1]:.2f} bohr, "
              f"shortest H–H {dom.get('min_hh', float('nan')):.3f} Å; outside it `predict` warns and sets `out_of_domain`.", ""]
    lines += training_section(args.run, card)
    split_lines, own_docs = [], {}
    for split in args.splits:
        topology = True
        docs = []
        split_folder, split_spec, kept_name = split_dataset(split, args.dataset)
        split_name, _, pattern = split_files(split_spec)
        own = [own_reuse] if own_reuse else []
        for model in [str(folder), *args.baseline]:
            # the baselines' documents this card made before are taken wherever a rerun would give them
            reuse = own if model == str(folder) else [*args.reuse_baselines, out_dir]
            doc, cmd = evaluate(model, args.dataset, split, topology, reuse)
            label = name if model == str(folder) else doc["model"]
            if "   # from " not in cmd:  # a document taken from another card's folder stays there, not copied
                (out_dir / f"{label}_{kept_name}.json").write_text(json.dumps(doc, indent=1))
            docs.append((label, doc, cmd))
        own_docs[split] = docs[0][1]
        split_lines += [f"## Split `{split_name}`: `{pattern or split_folder}`", "",
                        "| model | files | R² (pooled) | MAE | RMSE | max | W1 | Δφ_3D within 0.02 | CPs matched | s/file |",
                        "|---|---|---|---|---|---|---|---|---|---|"]
        split_lines += [metrics_row(label, doc) for label, doc, _ in docs]
        split_lines += ["", "Commands:", ""] + [f"    {cmd}" for _, _, cmd in docs] + [""]
        split_lines += [f"Per pressure bin ({name}):", "", "| bin (GPa) | files | R² | MAE | RMSE |", "|---|---|---|---|---|"]
        split_lines += pressure_rows(docs[0][1]) + [""]
        if rows := condition_rows(docs[0][1]):
            split_lines += [f"Per condition ({name}):", "", "| condition | files | R² | MAE | Δφ_3D within 0.02 |",
                            "|---|---|---|---|---|"] + rows + [""]
        split_lines += [f"Per file ({name}):", "", "| sample | R² | MAE | max | φ_3D DFT | φ_3D pred | Δφ_3D | CPs matched |",
                        "|---|---|---|---|---|---|---|---|"] + file_rows(docs[0][1]) + [""]
    if args.targets:
        from geoelf.analysis.targets import load_targets

        lines += targets_section(load_targets(args.targets), own_docs)
    lines += split_lines
    if args.notes:
        lines += ["## Limits and notes", "", args.notes.read_text().strip(), ""]
    (out_dir / "weights.sha256").write_text(weights_hash + "\n")  # which weights the documents were made with
    lines += kept_section(card, "## Uncertainty")
    card.write_text("\n".join(lines))
    print(f"wrote {folder / 'MODEL_CARD.md'} and {out_dir}/")


if __name__ == "__main__":
    main()
