"""The error model: σ(x) fitted by likelihood and calibrated, σ of φ by correlated draws of the
attractor graph, calibration files that refuse edits, and σ wherever a number is shown."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch

from conftest import cosine_field, package_extra
from geoelf.cli.main import main
from geoelf.errors import GeoelfError
from geoelf.model import package
from geoelf.model.network import NetConfig, ProbeNet
from geoelf.model.uncertainty import (
    COVERAGE_1SIGMA,
    coverage_scale,
    fit_sigma_head,
    inflation,
    load_calibration,
    save_calibration,
)
from geoelf.topology.network import analyse
from geoelf.topology.uncertainty import bond_probabilities, correlated_noise, topology_sigma


def test_correlated_noise_has_unit_variance_and_falls_to_1_over_e_at_xi():
    xi = 0.4
    points = np.array([[0.0, 0.0, 0.0], [xi, 0.0, 0.0], [0.0, 3 * xi, 0.0]])
    n = correlated_noise(points, xi, 4000, np.random.default_rng(1))
    assert n.shape == (4000, 3)
    np.testing.assert_allclose(n.var(axis=0), 1.0, atol=0.08)
    c = np.corrcoef(n.T)
    assert abs(c[0, 1] - math.exp(-1)) < 0.06  # the correlation length the residual analysis measures
    assert abs(c[0, 2]) < 0.08  # exp(−9) at 3ξ: uncorrelated


def test_coverage_scale_recovers_a_known_factor():
    rng = np.random.default_rng(0)
    sigma_true = rng.uniform(0.01, 0.05, 20000)
    errors = rng.normal(scale=sigma_true)
    scale = coverage_scale(np.abs(errors) / (2 * sigma_true))  # a σ twice too large
    assert scale == pytest.approx(0.5, rel=0.03)
    assert np.mean(np.abs(errors) <= scale * 2 * sigma_true) == pytest.approx(COVERAGE_1SIGMA, abs=0.005)


def test_the_sigma_head_learns_an_error_that_grows_with_a_feature():
    """Residuals r ~ N(0, (0.01 + 0.05 x₀)²): the fitted σ tracks the true one and, once scaled, ±σ
    covers 68 % and ±2σ 95 % of fresh residuals."""
    rng = np.random.default_rng(0)

    def draw(n):
        x = rng.uniform(0, 1, size=(n, 6)).astype(np.float32)
        true = 0.01 + 0.05 * x[:, 0]
        return x, rng.normal(scale=true), true

    x, r, _ = draw(20000)
    head = fit_sigma_head(x, r, hidden=8, epochs=20)
    with torch.no_grad():
        raw = head(torch.from_numpy(x)).double().numpy()
    scale = coverage_scale(np.abs(r) / raw)
    x2, r2, true2 = draw(20000)
    with torch.no_grad():
        sigma = scale * head(torch.from_numpy(x2)).double().numpy()
    assert np.corrcoef(sigma, true2)[0, 1] > 0.97
    assert np.mean(np.abs(r2) <= sigma) == pytest.approx(0.683, abs=0.02)
    assert np.mean(np.abs(r2) <= 2 * sigma) == pytest.approx(0.954, abs=0.02)


def test_sigma_grows_outside_the_domain_only():
    assert inflation(0.3) == inflation(1.0) == 1.0
    assert inflation(2.5) == 2.5


def test_sigma_of_phi_is_sigma_at_the_saddle_that_sets_it():
    """cosine_field has one attractor and three bond points far apart in value: φ_3D is the lowest
    bond point's value, so with a constant σ(x) = s its spread is s (scale 1), and twice s gives twice."""
    field = cosine_field(1.0, 2.0, 4.0, shape=(20, 20, 20))
    an = analyse(field)
    for s in (0.002, 0.004):
        sigma = field.with_data(np.full(field.shape, s))
        out = topology_sigma(an, sigma, xi=0.4, draws=600, phi_scale=1.0, seed=3)
        assert out["phi_3d_sigma"] == pytest.approx(s, rel=0.12)
    zero = topology_sigma(an, field.with_data(np.zeros(field.shape)), 0.4, 50, 1.0)
    assert zero["phi_3d_sigma"] == 0.0


def test_bond_probability_is_the_gaussian_tail_beyond_the_isovalue():
    field = cosine_field(1.0, 2.0, 4.0, shape=(20, 20, 20))
    field.atoms.numbers[:] = 1
    an = analyse(field)
    sigma = field.with_data(np.full(field.shape, 0.01))
    bonds = bond_probabilities(an, sigma, isovalue=0.0)
    assert bonds and all(b["i"] == b["j"] == 0 for b in bonds)  # the H bonds to its own images
    for b in bonds:
        t = b["elf"] - 0.01  # one σ below the bond point's value: P = Φ(1)
        (again,) = [x for x in bond_probabilities(an, sigma, t) if x["shift"] == b["shift"]]
        assert again["probability"] == pytest.approx(0.5 * (1 + math.erf(1 / math.sqrt(2))), abs=1e-3)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny ProbeNet package and three synthetic 'DFT' frames (the promolecular ELF) as .npz files."""
    from geoelf.field import Field
    from geoelf.io import write
    from geoelf.train.data import synthetic_items

    root = tmp_path_factory.mktemp("uncertainty")
    torch.manual_seed(0)
    net = ProbeNet(NetConfig(features=8, vector_features=4, rbf=6, layers=1, cutoff_atom=2.5, cutoff_probe=1.8, hidden=8))
    package.save(net, root / "model", package_extra("tiny", net))
    refs = []
    for k, item in enumerate(synthetic_items(3, seed=5, natoms=8)):
        path = root / f"ref{k}.npz"
        write(Field(item.elf.astype(float), item.atoms), str(path))
        refs.append(str(path))
    return root, refs


def test_calibrate_then_predict_and_screen_carry_sigma(tiny, tmp_path, capsys):
    root, refs = tiny
    model = str(tmp_path / "calibrated")
    assert main(["calibrate", *refs, "--model", str(root / "model"), "-o", model, "--points", "500",
                 "--draws", "16", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["point_scale"] > 0 and record["phi_scale"] > 0 and record["fitted_on"]["frames"] == 3
    assert not (root / "model" / "uncertainty.json").exists()  # the original package is untouched

    structure = tmp_path / "s.extxyz"
    from ase.io import write as write_structure

    from geoelf.io import read_elf

    write_structure(structure, read_elf(refs[0]).atoms, format="extxyz")
    out = tmp_path / "elf.cube.gz"
    assert main(["predict", str(structure), "--model", model, "--grid", "16", "16", "16", "--network",
                 "--uncertainty", "-o", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    import geoelf

    sigma = geoelf.read(str(tmp_path / "elf_sigma.cube.gz"))
    assert doc["sigma_output"].endswith("elf_sigma.cube.gz") and sigma.data.min() > 0
    assert doc["elf_sigma_mean"] == pytest.approx(sigma.data.mean(), rel=1e-4)  # cube keeps 6 digits
    assert all(f"{k}_sigma" in doc["network"] for k in ("phi_1d", "phi_2d", "phi_3d", "phi_star"))
    assert doc["provenance"]["options"]["uncertainty_sha256"] == load_calibration(
        model, json.loads((tmp_path / "calibrated" / "config.json").read_text())["sha256"]["weights"]
    ).sha256
    assert all(0.0 <= b["probability"] <= 1.0 for b in doc["bond_probabilities"])

    import pyarrow.parquet as pq

    from geoelf.screen.runner import ScreenOptions, screen

    table = tmp_path / "r.parquet"
    screen([str(structure)], str(table), ScreenOptions(model=model, grid=(16, 16, 16), uncertainty=True),
           workers=1, progress=False)
    (row,) = pq.read_table(table).to_pylist()
    assert row["phi_3d_sigma"] == pytest.approx(doc["network"]["phi_3d_sigma"])
    assert row["elf_sigma_mean"] == pytest.approx(float(np.mean(sigma.data)), rel=1e-4)
    assert row["ood_score"] == pytest.approx(doc["ood_score"], abs=1e-4)


def test_an_edited_or_foreign_calibration_is_refused(tiny, tmp_path, capsys):
    root, refs = tiny
    model = tmp_path / "m"
    assert main(["calibrate", *refs[:2], "--model", str(root / "model"), "-o", str(model), "--points", "200",
                 "--draws", "8"]) == 0
    weights = json.loads((model / "config.json").read_text())["sha256"]["weights"]
    assert load_calibration(model, weights) is not None
    with pytest.raises(GeoelfError, match="fitted for other weights"):
        load_calibration(model, "0" * 64)
    record = json.loads((model / "uncertainty.json").read_text())
    record["point_scale"] *= 0.5  # a hand edit that would halve every error bar
    (model / "uncertainty.json").write_text(json.dumps(record))
    from ase.io import write as write_structure

    from geoelf.io import read_elf

    structure = tmp_path / "s.extxyz"
    write_structure(structure, read_elf(refs[0]).atoms, format="extxyz")
    capsys.readouterr()
    assert main(["predict", str(structure), "--model", str(model)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "uncertainty.json differs from the calibration as it was written" in err
    shutil.rmtree(model)
    assert main(["predict", str(structure), "--model", str(root / "model"), "--uncertainty"]) == 2
    assert "has no uncertainty calibration" in capsys.readouterr().err


def test_calibrate_replaces_a_calibration_fitted_for_earlier_weights(tiny, tmp_path, capsys):
    """Retrained weights leave the old calibration behind: predict refuses it, and calibrate, the
    command its message names, fits a new one in place."""
    root, refs = tiny
    model = tmp_path / "m"
    args = ["calibrate", *refs[:2], "--model", str(model), "--points", "200", "--draws", "8"]
    shutil.copytree(root / "model", model)
    assert main(args) == 0
    net, _ = package.load(str(model))
    with torch.no_grad():
        for weight in net.parameters():
            weight.add_(0.01)  # "retrained": other weights installed over the calibrated package
    package.save(net, model, package_extra("tiny", net))
    capsys.readouterr()
    assert main(["evaluate", refs[0], "--model", str(model)]) == 2
    assert "fitted for other weights: run geoelf calibrate again" in capsys.readouterr().err
    assert main(args) == 0
    weights = json.loads((model / "config.json").read_text())["sha256"]["weights"]
    assert load_calibration(model, weights).record["model_weights_sha256"] == weights


def test_an_evaluation_names_the_calibration_that_made_its_coverage(tiny, tmp_path):
    """The provenance ``evaluate`` records is ``evaluation_provenance`` of the same model and options,
    and it changes with the calibration: a document made with other error bars is never taken for a
    rerun (the model cards and the calibration report compare it before reusing one)."""
    from geoelf.analysis.evaluate import evaluate, evaluation_provenance, references
    from geoelf.model.predict import Predictor

    root, refs = tiny
    first, second = tmp_path / "a", tmp_path / "b"
    for folder, frames in ((first, refs[:2]), (second, refs[1:])):
        assert main(["calibrate", *frames, "--model", str(root / "model"), "-o", str(folder), "--points", "200",
                     "--draws", "8"]) == 0
    model = Predictor(str(first), precision="float32")
    doc = evaluate(model, references(refs[:1]), topology=False)
    assert doc["provenance"] == evaluation_provenance(model, topology=False)
    assert "uncertainty_sha256" in doc["provenance"]["options"] and doc["files"][0]["coverage"]["within_1sigma"] >= 0
    other = evaluation_provenance(Predictor(str(second), precision="float32"), topology=False)
    assert other["sha256"] != doc["provenance"]["sha256"]
    bare = evaluate(model, references(refs[:1]), topology=False, uncertainty=False)
    assert bare["provenance"] == evaluation_provenance(model, topology=False, uncertainty=False) != doc["provenance"]


def test_save_and_load_round_trip_the_head(tiny, tmp_path):
    root, _ = tiny
    folder = tmp_path / "p"
    shutil.copytree(root / "model", folder)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 5)).astype(np.float32)
    head = fit_sigma_head(x, rng.normal(scale=0.02, size=500), hidden=4, epochs=2)
    save_calibration(folder, head, {"point_scale": 1.5, "phi_scale": 2.0, "xi_A": 0.4, "samples": 16, "fitted_on": {}})
    weights = json.loads((folder / "config.json").read_text())["sha256"]["weights"]
    cal = load_calibration(folder, weights)
    with torch.no_grad():
        np.testing.assert_allclose(cal.sigma(x), 1.5 * head(torch.from_numpy(x)).double().numpy(), rtol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["dense-h-v1-ks", "dense-h-v1"])
def test_the_shipped_error_bars_grow_out_of_domain(model):
    """Each shipped calibration: a compressed copy (rs − 0.3: out of domain) of the shipped test-split
    frame and an H2 molecule in a 2-atom cell (rs 1.86) get σ at least 1.5 times the frame's own; an
    expanded copy (rs + 0.3 = 1.63 bohr, inside the density range, every molecule stretched by 23 %)
    gets a larger σ too, though no flag (dense-h-v1-ks ×1.24, dense-h-v1 ×1.51)."""
    from ase import Atoms
    from ase.io import read

    import geoelf
    from geoelf.model.grids import dft_grid
    from geoelf.model.predict import Predictor
    from geoelf.units import volume_per_atom, wigner_seitz_rs

    pred = Predictor(model)
    atoms = read(geoelf.example("h64_rs1.33_T2800.extxyz"))

    def mean_sigma(a):
        p = pred.grid(a, dft_grid(a.cell.array), uncertainty=True)
        return float(p.sigma.data.mean()), p.ood_score

    inside, score = mean_sigma(atoms)
    assert score <= 1.0
    rs = wigner_seitz_rs(atoms.get_volume(), len(atoms))
    for shift, factor, flagged in ((-0.3, 1.5, True), (0.3, 1.15, False)):
        moved = atoms.copy()
        moved.set_cell(atoms.cell.array * (rs + shift) / rs, scale_atoms=True)
        sigma, moved_score = mean_sigma(moved)
        assert sigma > factor * inside and (moved_score > 1.0) == flagged
    a = (2 * volume_per_atom(1.86)) ** (1 / 3)
    h2 = Atoms("H2", positions=[[0, 0, 0], [0.74, 0, 0]], cell=[a, a, a], pbc=True)
    assert mean_sigma(h2)[0] > 1.5 * inside


def test_calibration_recovers_a_known_noise(tiny, tmp_path, capsys):
    """References = the model's own prediction plus Gaussian noise of σ = 0.02: the fitted σ(x) is
    0.02 and ±σ covers 68 % of fresh noise of the same kind."""
    import geoelf
    from geoelf.io import read_elf, write
    from geoelf.model.predict import Predictor

    root, refs = tiny
    model = Predictor(str(root / "model"), precision="float32")
    rng = np.random.default_rng(7)
    noisy = []
    for k, path in enumerate(refs):
        atoms = read_elf(path).atoms
        clean = model.grid(atoms, (16, 16, 16)).field
        path = tmp_path / f"noisy{k}.npz"
        write(clean.with_data(clean.data + rng.normal(scale=0.02, size=clean.shape)), str(path))
        noisy.append(str(path))
    out = tmp_path / "calibrated"
    assert main(["calibrate", *noisy, "--model", str(root / "model"), "-o", str(out), "--points", "3000",
                 "--draws", "8"]) == 0
    calibrated = Predictor(str(out), precision="float32")
    atoms = read_elf(refs[0]).atoms
    pred = calibrated.grid(atoms, (16, 16, 16), uncertainty=True)
    assert float(pred.sigma.data.mean()) == pytest.approx(0.02, rel=0.1)
    fresh = rng.normal(scale=0.02, size=pred.sigma.shape)
    assert np.mean(np.abs(fresh) <= pred.sigma.data) == pytest.approx(0.683, abs=0.04)
    assert geoelf.read(noisy[0]).data.shape == (16, 16, 16)


@pytest.mark.parametrize("name", ["s.cube", "s.cube.gz", "s.xsf", "s.npz", "ELFCAR_sigma"])
def test_a_sigma_field_round_trips_through_every_writer(name, tmp_path):
    """σ(x) is a field like the ELF, written beside it in the same format (values may exceed the
    ELF's range only through the out-of-domain growth, capped at 1)."""
    import geoelf
    from geoelf.field import Field

    field = cosine_field(1.0, 2.0, 3.0, shape=(10, 12, 14))
    sigma = Field(0.01 + 0.05 * field.data, field.atoms, "ELF sigma")
    geoelf.write(sigma, str(tmp_path / name))
    back = geoelf.read(str(tmp_path / name))
    np.testing.assert_allclose(back.data, sigma.data, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(back.cell, sigma.cell, atol=1e-5)
