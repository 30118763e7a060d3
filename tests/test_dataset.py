"""Datasets: sample round trip, info counts, split by trajectory, export, build from files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase import Atoms

from conftest import gaussian_field
from geoelf.cli.main import main
from geoelf.data import dataset as ds
from geoelf.data.sample import read_sample, write_sample
from geoelf.io import read, write


def fake_dataset(root, conditions=((1.3, 1000), (1.3, 2000), (1.5, 1000), (1.5, 2000)), replicas=3, frames=2):
    atoms = Atoms("H2", positions=[[0, 0, 0], [0.8, 0, 0]], cell=[2.0, 2.1, 2.2], pbc=True)
    field = gaussian_field(atoms, (8, 8, 8))
    field.data /= field.data.max()
    for rs, t in conditions:
        for r in range(replicas):
            traj = f"h64_rs{rs}_T{t}_r{r}"
            for step in range(frames):
                meta = {"phase": "fluid", "rs": rs, "temperature_k": t, "trajectory": traj, "md_step": step,
                        "natoms": 64, "pressure_gpa": 100 + 200 * (1.6 - rs) + step, "sample_id": f"{traj}_{step}"}
                write_sample(root / "fluid" / traj / f"{traj}_{step}.h5", field, meta)
    write_sample(root / "crystal" / "Pa-3.h5", field, {"phase": "Pa-3", "natoms": 8, "pressure_gpa": 100.0, "sample_id": "Pa-3", "trajectory": "Pa-3"})
    write_sample(root / "fluid" / "big" / "big_0.h5", field, {"phase": "fluid", "rs": 1.4, "temperature_k": 1500, "natoms": 128,
                                                             "trajectory": "h128", "pressure_gpa": 200.0, "sample_id": "big_0"})
    return field


def test_evaluate_pools_its_metrics_by_sampling_condition(tmp_path):
    """Each fluid (cell size, rs, T) and each other kind of sample is one group of the evaluation,
    its metrics pooled over the points of its files exactly as the whole set's are."""
    from geoelf.analysis.compare import metrics
    from geoelf.analysis.evaluate import evaluate, references
    from geoelf.model.baselines import get_model

    fake_dataset(tmp_path, conditions=((1.3, 1000), (1.5, 2000)), replicas=1, frames=2)
    model = get_model("promolecular")
    doc = evaluate(model, references([str(p) for p in ds.find_samples(tmp_path)]), topology=False)
    groups = {"N64 rs1.30 T1000": 2, "N64 rs1.50 T2000": 2, "N128 rs1.40 T1500": 1, "crystal": 1}
    assert {k: v["files"] for k, v in doc["by_condition"].items()} == groups
    for name in groups:
        paths = [p for p, _, meta in references([str(p) for p in ds.find_samples(tmp_path)]) if ds.condition_of(meta) == name]
        refs = [read_sample(p)[0] for p in paths]
        pooled = metrics(np.concatenate([r.data.ravel() for r in refs]),
                         np.concatenate([model.grid(r.atoms, r.shape).field.data.ravel() for r in refs]))
        assert doc["by_condition"][name]["r2"] == pytest.approx(pooled["r2"], rel=1e-12)
        assert doc["by_condition"][name]["mae"] == pytest.approx(pooled["mae"], rel=1e-12)


def test_a_frame_whose_network_percolates_on_one_side_only_is_a_phi_miss():
    """φ_3D of one field and none of the other (its attractor graph does not percolate in 3D) counts
    against the share within 0.02 instead of leaving the frame out of it."""
    from geoelf.analysis.evaluate import _topology_aggregate

    def frame(ref, pred):
        return {"phi_3d_ref": ref, "phi_3d_pred": pred, "cp_matched": 9, "cp_ref": 10}

    files = [frame(0.50, 0.51), frame(0.40, 0.45), frame(0.21, None), frame(None, 0.30), frame(None, None)]
    doc = _topology_aggregate(files)
    assert doc["phi_3d_within_0.02"] == pytest.approx(1 / 4)  # four frames with a φ_3D, one within 0.02
    assert doc["cp_matched_fraction"] == pytest.approx(0.9)
    assert _topology_aggregate([frame(None, None)])["phi_3d_within_0.02"] is None


def test_sample_round_trip_is_within_quantisation(tmp_path):
    atoms = Atoms("H2", positions=[[0, 0, 0], [0.8, 0.1, 0]], cell=[2.0, 2.1, 2.2], pbc=True)
    field = gaussian_field(atoms, (10, 11, 12))
    write_sample(tmp_path / "s.h5", field, {"phase": "fluid", "kmesh": [3, 3, 3], "rs": 1.4, "skip": None})
    back, meta = read_sample(tmp_path / "s.h5")
    assert np.max(np.abs(back.data - field.data)) <= 5e-6 + 1e-12
    np.testing.assert_array_equal(back.atoms.positions, atoms.positions)
    assert meta["kmesh"] == [3, 3, 3] and meta["rs"] == 1.4 and "skip" not in meta
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_info_counts_and_json_contract(tmp_path, capsys):
    fake_dataset(tmp_path)
    assert main(["dataset", "info", str(tmp_path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["total"] == 4 * 3 * 2 + 2
    assert doc["by_phase"] == {"crystal": 1, "fluid": 25}
    assert doc["natoms"] == {"128": 1, "64": 24, "8": 1}
    assert doc["by_temperature"]["1000"] == 12
    (tmp_path / "fluid" / "big" / "big_0.h5").unlink()  # no 128-atom sample and no crystal left:
    (tmp_path / "crystal" / "Pa-3.h5").unlink()  # the contract's keys stay, with 0
    assert main(["dataset", "info", str(tmp_path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["natoms"] == {"64": 24, "128": 0} and doc["by_phase"] == {"fluid": 24, "crystal": 0}


def test_split_never_divides_a_trajectory_and_covers_every_condition(tmp_path):
    fake_dataset(tmp_path)
    splits = ds.make_splits(tmp_path)
    rows = ds.index(tmp_path)
    for traj in {r["trajectory"] for r in rows}:
        sides = {ds.split_of(r, splits) for r in rows if r["trajectory"] == traj}
        assert len(sides) == 1
    assert len(splits["test"]) == 2 and len(splits["val"]) == 2 and len(splits["train"]) == 8
    assert splits["crystal"] == ["Pa-3"] and splits["test_large"] == ["h128"]
    held = {(t.split("_")[1], t.split("_")[2]) for t in splits["test"]}
    assert {rs for rs, _ in held} == {"rs1.3", "rs1.5"} and {t for _, t in held} == {"T1000", "T2000"}
    assert ds.make_splits(tmp_path) == splits  # deterministic
    assert all(t.endswith("_r1") for t in splits["test"] + splits["val"])  # the second replica of its condition
    # a later replica joins training and moves no held-out trajectory
    atoms = Atoms("H2", positions=[[0, 0, 0], [0.8, 0, 0]], cell=[2.0, 2.1, 2.2], pbc=True)
    for rs, t in ((1.3, 1000), (1.5, 2000)):
        traj = f"h64_rs{rs}_T{t}_r10"
        write_sample(tmp_path / "fluid" / traj / f"{traj}_0.h5", gaussian_field(atoms, (8, 8, 8)),
                     {"phase": "fluid", "rs": rs, "temperature_k": t, "trajectory": traj, "md_step": 0, "natoms": 64,
                      "pressure_gpa": 150.0, "sample_id": f"{traj}_0"})
    grown = ds.make_splits(tmp_path)
    assert grown["test"] == splits["test"] and grown["val"] == splits["val"]
    assert set(grown["train"]) - set(splits["train"]) == {"h64_rs1.3_T1000_r10", "h64_rs1.5_T2000_r10"}


def test_thermal_solids_are_held_out_by_structure_type(tmp_path, capsys):
    fake_dataset(tmp_path)
    atoms = Atoms("H2", positions=[[0, 0, 0], [0.8, 0, 0]], cell=[2.0, 2.1, 2.2], pbc=True)
    kinds = ["C2c-24", "Cmca-12", "I41amd", "P63m", "Pa-3"]
    for kind in kinds:
        for traj in (f"{kind}_50GPa_T300", f"{kind}_150GPa_T600"):
            write_sample(tmp_path / "solid" / traj / f"{traj}_0.h5", gaussian_field(atoms, (8, 8, 8)),
                         {"phase": "solid", "trajectory": traj, "temperature_k": 300, "natoms": 2, "sample_id": f"{traj}_0"})
    for name in ("C2c-24_100GPa", "Cs-IV_300GPa"):  # relaxed crystals of a trained type and of one with no thermal solids
        write_sample(tmp_path / "crystal" / f"{name}.h5", gaussian_field(atoms, (8, 8, 8)),
                     {"phase": name.split("_")[0], "trajectory": name, "natoms": 2, "sample_id": name})
    splits = ds.make_splits(tmp_path)
    held = {ds.structure_type(t) for t in splits["test_solid"]}
    assert held == {"Cmca-12", "Pa-3"}  # every third type from the second, in name order, at all its conditions
    # a relaxed crystal follows its structure type: held out with it, to validation beside a trained
    # type's runs, and to 'crystal' where the dataset has no thermal solid of its type
    assert "Pa-3" in splits["test_solid"] and "C2c-24_100GPa" in splits["val"] and splits["crystal"] == ["Cs-IV_300GPa"]
    assert len(splits["test_solid"]) == 5 and {ds.structure_type(t) for t in splits["train"]} >= {"C2c-24", "I41amd", "P63m"}
    # every trained type keeps its first run (natural order: 50 before 150 GPa) and gives the second to validation
    assert {t for t in splits["val"] if not t.startswith("h64")} == {"C2c-24_150GPa_T600", "I41amd_150GPa_T600", "P63m_150GPa_T600",
                                                                      "C2c-24_100GPa"}
    assert {"C2c-24_50GPa_T300", "I41amd_50GPa_T300", "P63m_50GPa_T300"} <= set(splits["train"])
    # a dataset that names its held-out types: those, and no others; a name it lacks is an error naming the file
    (tmp_path / "held_out.json").write_text(json.dumps({"solid_types": ["I41amd", "Pa-3"]}))
    chosen = ds.make_splits(tmp_path)
    assert {ds.structure_type(t) for t in chosen["test_solid"]} == {"I41amd", "Pa-3"}
    assert {ds.structure_type(t) for t in chosen["train"] if not t.startswith("h")} == {"C2c-24", "Cmca-12", "P63m"}
    (tmp_path / "held_out.json").write_text(json.dumps({"solid_types": ["I41amd", "Pa3"]}))
    assert main(["dataset", "split", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "held_out.json" in err and "Pa3" in err
    (tmp_path / "held_out.json").unlink()
    doc = ds.info(tmp_path)
    assert doc["by_condition"]["solid Pa-3_150GPa_T600"] == 1 and doc["by_condition"]["crystal Pa-3"] == 1
    assert list(doc["by_temperature"]) == ["300", "1000", "1500", "2000", "none"]  # natural order, not as strings


def test_heterogeneous_cells_are_held_out_by_host_within_each_kind(tmp_path, capsys):
    fake_dataset(tmp_path)
    atoms = Atoms("H2", positions=[[0, 0, 0], [0.8, 0, 0]], cell=[2.0, 2.1, 2.2], pbc=True)
    cells = {"Pa-3_20GPa_vacancy": "defect", "Pa-3_50GPa_vacancy": "defect", "P63m_80GPa_vacancy": "defect",
             "Pa-3_20GPa_solid-fluid": "two-phase", "Pa-3_50GPa_solid-fluid": "two-phase",
             "h128_rs1.33_molecular-atomic": "two-phase", "h128_rs1.41_molecular-atomic": "two-phase"}
    for traj, phase in cells.items():
        write_sample(tmp_path / "heterogeneous" / traj / f"{traj}_0.h5", gaussian_field(atoms, (8, 8, 8)),
                     {"phase": phase, "trajectory": traj, "temperature_k": 300, "natoms": 2, "sample_id": f"{traj}_0"})
    splits = ds.make_splits(tmp_path)
    # every second host of each kind in name order: P63m < Pa-3_20 < Pa-3_50 for the vacancies
    assert splits["test_heterogeneous"] == ["Pa-3_20GPa_vacancy", "Pa-3_50GPa_solid-fluid", "h128_rs1.41_molecular-atomic"]
    assert {"P63m_80GPa_vacancy", "Pa-3_50GPa_vacancy", "Pa-3_20GPa_solid-fluid"} <= set(splits["train"])
    assert splits["crystal"] == ["Pa-3"]
    assert main(["dataset", "info", str(tmp_path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["by_phase"]["defect"] == 3 and doc["by_phase"]["two-phase"] == 4
    assert doc["by_split"]["test_heterogeneous"] == 3
    # a held-out solid type never reaches training as the host of a defect: its cell is held out too,
    # and the every-second rule runs over the other hosts as before
    for traj, phase in (("C2c_50GPa_T300", "solid"), ("Cmca_50GPa_T300", "solid"), ("Cmca_50GPa_vacancy", "defect")):
        folder = "solid" if phase == "solid" else "heterogeneous"
        write_sample(tmp_path / folder / traj / f"{traj}_0.h5", gaussian_field(atoms, (8, 8, 8)),
                     {"phase": phase, "trajectory": traj, "temperature_k": 300, "natoms": 2, "sample_id": f"{traj}_0"})
    splits = ds.make_splits(tmp_path)
    assert splits["test_solid"] == ["Cmca_50GPa_T300"]
    assert "Cmca_50GPa_vacancy" in splits["test_heterogeneous"] and "Cmca_50GPa_vacancy" not in splits["train"]
    assert {"Pa-3_20GPa_vacancy", "Pa-3_50GPa_solid-fluid"} <= set(splits["test_heterogeneous"])
    assert {"P63m_80GPa_vacancy", "Pa-3_50GPa_vacancy"} <= set(splits["train"])


def test_export_and_build_round_trip(tmp_path, capsys):
    field = fake_dataset(tmp_path / "d")
    ds.make_splits(tmp_path / "d")
    assert main(["dataset", "export", str(tmp_path / "d"), "--split", "crystal", "-o", str(tmp_path / "x")]) == 0
    cube = tmp_path / "x" / "Pa-3.cube.gz"
    assert np.max(np.abs(read(str(cube)).data - field.data)) < 1e-5
    write(field, str(tmp_path / "ELFCAR"))
    assert main(["dataset", "build", str(tmp_path / "new"), str(cube), str(tmp_path / "ELFCAR"), "--phase", "fluid", "--temperature", "900"]) == 0
    metas = {m["sample_id"]: m for m in ds.index(tmp_path / "new")}
    assert set(metas) == {"Pa-3", "ELFCAR"} and metas["ELFCAR"]["temperature_k"] == 900.0
    assert main(["dataset", "build", str(tmp_path / "new"), str(cube)]) == 0  # already there: skipped
    assert "0 new samples" in capsys.readouterr().out.splitlines()[-1]


def test_samples_are_readable_by_every_analysis_command(tmp_path, capsys):
    fake_dataset(tmp_path)
    sample = tmp_path / "crystal" / "Pa-3.h5"
    assert main(["info", str(sample), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["format"] == "sample" and doc["grid"] == [8, 8, 8]
    assert main(["network", str(sample), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["phi_star"] is not None


def test_device_pack_round_trip_is_within_its_quantisation(tmp_path):
    """scripts/device_train.py packs a split for training on another host; its items equal the dataset's."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "scripts"))
    from device_train import SCALE, pack, unpack

    from geoelf.train.data import load_split

    fake_dataset(tmp_path / "d")
    assert main(["dataset", "split", str(tmp_path / "d")]) == 0
    pack(str(tmp_path / "d"), "train", str(tmp_path / "train.npz"))
    packed, stored = unpack(str(tmp_path / "train.npz")), load_split(str(tmp_path / "d"), "train")
    assert len(packed) == len(stored) == 16
    for a, b in zip(packed, stored):
        assert a.elf.shape == b.elf.shape
        assert np.abs(a.elf - b.elf).max() <= 0.5 / SCALE + 1e-6
        assert np.array_equal(a.atoms.positions, b.atoms.positions) and np.array_equal(a.atoms.cell.array, b.atoms.cell.array)
        assert a.meta["sample_id"] == b.meta["sample_id"]


def test_training_joins_the_splits_of_several_datasets_and_refuses_one_that_gives_nothing(tmp_path):
    """``data: [A, B]`` in a training config: the train split is A's followed by B's (each with its own
    split file), a dataset whose split is empty is an error naming it, and a malformed ``data`` is refused."""
    from geoelf.errors import GeoelfError
    from geoelf.train.config import load_config
    from geoelf.train.data import load_split

    fake_dataset(tmp_path / "a")
    fake_dataset(tmp_path / "b", conditions=((1.2, 3000), (1.9, 800)), replicas=2)
    for name in "ab":
        assert main(["dataset", "split", str(tmp_path / name)]) == 0
    a, b = load_split(str(tmp_path / "a"), "train"), load_split(str(tmp_path / "b"), "train")
    both = load_split([str(tmp_path / "a"), str(tmp_path / "b")], "train")
    assert len(a) > 0 and len(b) > 0
    assert [i.meta["sample_id"] for i in both] == [i.meta["sample_id"] for i in a + b]
    assert {i.meta["rs"] for i in both} == {1.3, 1.5, 1.2, 1.9}
    config = tmp_path / "c.yaml"
    config.write_text(f"data: [{tmp_path / 'a'}, {tmp_path / 'b'}]\n")
    assert load_config(str(config)).data == [str(tmp_path / "a"), str(tmp_path / "b")]
    with pytest.raises(GeoelfError, match="data must be a dataset folder or a list of them"):
        load_config(None, ["data=[]"])
    doc = json.loads((tmp_path / "b" / "splits.json").read_text())
    doc["splits"]["train"] = []
    (tmp_path / "b" / "splits.json").write_text(json.dumps(doc))
    with pytest.raises(GeoelfError, match="split 'train' has no samples") as err:
        load_split([str(tmp_path / "a"), str(tmp_path / "b")], "train")
    assert str(tmp_path / "b") in str(err.value)


def test_evaluate_joins_the_splits_of_repeated_datasets_and_names_one_that_gives_nothing(tmp_path, capsys):
    """``geoelf evaluate --dataset A --dataset B --split val``: every validation sample of A, then of B
    (as training joins them); a dataset whose split is empty: one line naming it, exit status 2."""
    from geoelf.analysis.evaluate import references
    from geoelf.cli.main import main
    from geoelf.data.dataset import samples_of_split

    fake_dataset(tmp_path / "a")
    fake_dataset(tmp_path / "b", conditions=((1.2, 3000), (1.9, 800)), replicas=2)
    for name in "ab":
        assert main(["dataset", "split", str(tmp_path / name)]) == 0
    capsys.readouterr()
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    expected = [str(p) for p in samples_of_split(a, "val") + samples_of_split(b, "val")]
    assert [path for path, _, _ in references(dataset=[a, b], split="val")] == expected
    assert main(["evaluate", "--dataset", a, "--dataset", b, "--split", "val", "--model", "promolecular",
                 "--no-topology", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [f["path"] for f in doc["files"]] == expected
    doc = json.loads((tmp_path / "b" / "splits.json").read_text())
    doc["splits"]["val"] = []
    (tmp_path / "b" / "splits.json").write_text(json.dumps(doc))
    assert main(["evaluate", "--dataset", a, "--dataset", b, "--split", "val", "--model", "promolecular"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and b in err and "has no samples" in err


def test_targets_are_judged_on_the_split_they_name(tmp_path, capsys):
    """``geoelf evaluate --targets FILE`` judges the targets set on the evaluated split (pooled, or the
    worst sampling condition with every_condition) and nothing else; a bad targets file is one line
    naming it, exit status 2, before anything is predicted."""
    from geoelf.analysis.targets import target_rows, targets_of_split
    from geoelf.cli.main import main

    doc = {"aggregate": {"r2": 0.9971, "phi_3d_within_0.02": 0.95},
           "by_condition": {"N64 rs1.05 T4000": {"r2": 0.9941, "phi_3d_within_0.02": 1.0},
                            "N64 rs1.20 T1500": {"r2": 0.9990, "phi_3d_within_0.02": None}}}
    worst, phi = target_rows({"split": "x", "r2": 0.995, "phi_within": 0.9, "every_condition": True}, doc)
    assert (worst.measured, worst.met) == ("0.99410 (N64 rs1.05 T4000)", False)
    assert (phi.measured, phi.met) == ("not measured", False)  # one condition has no φ
    pooled, pooled_phi = target_rows({"split": "x", "r2": 0.995, "phi_within": 0.9}, doc)
    assert (pooled.measured, pooled.met, pooled_phi.measured, pooled_phi.met) == ("0.99710", True, "95%", True)
    targets = [{"split": "test", "r2": 0.9}, {"split": f"{tmp_path}:test", "r2": 0.5}, {"split": f"{tmp_path}:val", "r2": 0.5}]
    assert targets_of_split(targets, None, "test") == targets[:1]  # a bare name is a split of data/v1
    assert targets_of_split(targets, [str(tmp_path)], "test") == targets[1:2]
    assert targets_of_split(targets, [str(tmp_path), "data/v1"], "test") == []  # joined datasets: no target

    fake_dataset(tmp_path)
    assert main(["dataset", "split", str(tmp_path)]) == 0
    (tmp_path / "targets.yaml").write_text(f"- {{split: '{tmp_path}:test', r2: 0.5}}\n- {{split: '{tmp_path}:test', r2: 0.999999}}\n")
    capsys.readouterr()
    run = ["evaluate", "--dataset", str(tmp_path), "--split", "test", "--model", "promolecular", "--no-topology"]
    assert main([*run, "--targets", str(tmp_path / "targets.yaml"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    r2 = f"{out['aggregate']['r2']:.5f}"
    assert [row["measured"] for t in out["targets"] for row in t["rows"]] == [r2, r2]
    assert [row["met"] for t in out["targets"] for row in t["rows"]] == [out["aggregate"]["r2"] >= 0.5, out["aggregate"]["r2"] >= 0.999999]
    assert main([*run, "--targets", str(tmp_path / "targets.yaml")]) == 0
    text = capsys.readouterr().out
    # the no-learning baseline misses both on this synthetic field (R² < 0); the met case: target_rows above
    assert out["aggregate"]["r2"] < 0.5 and "0 of 2 met" in text and text.count("NOT MET") == 2 and r2 in text
    for bad, problem in (("- {split: test, r2: 1.5}\n", "r2 must be a number in [0, 1]"), ("- {split: test, r3: 0.9}\n", "unknown keys"),
                         ("split: test\n", "non-empty YAML list")):
        (tmp_path / "bad.yaml").write_text(bad)
        assert main([*run, "--targets", str(tmp_path / "bad.yaml")]) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
        assert str(tmp_path / "bad.yaml") in captured.err and problem in captured.err
