"""The geoelf command end to end (in process): JSON contracts and outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import cosine_field
from geoelf.cli.main import main
from geoelf.io import read, write

EXAMPLE = Path(__file__).resolve().parents[1] / "src" / "geoelf" / "examples" / "h64_rs1.25_T1200.ELF.cube.gz"


def run_json(capsys, *argv):
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def chain_file(tmp_path):
    path = tmp_path / "chain.cube"
    write(cosine_field(0.2, 0.3, 0.5, shape=(20, 20, 20)), str(path))
    return path


def test_network_json_contract(capsys, chain_file):
    doc = run_json(capsys, "network", str(chain_file))
    for key in ("file", "phi_1d", "phi_2d", "phi_3d", "phi_star", "methods"):
        assert key in doc
    assert set(doc["methods"]) >= {"grid", "critical_points"}
    for method in doc["methods"].values():
        assert {"phi_1d", "phi_2d", "phi_3d", "phi_star"} <= set(method)
    assert doc["phi_1d"] == pytest.approx(0.8, abs=1e-3)
    assert doc["phi_3d"] == doc["methods"]["critical_points"]["phi_3d"]
    assert doc["phi_star"] is None


def test_topology_json_contract(capsys, chain_file):
    doc = run_json(capsys, "topology", str(chain_file))
    assert doc["counts"] == {"max": 1, "bond": 3, "ring": 3, "cage": 1}
    assert doc["morse_sum"] == 0
    bonds = [p for p in doc["points"] if p["kind"] == "bond"]
    # each bond point joins the single attractor to its own image one lattice vector away
    assert sorted(tuple(abs(x) for x in p["translation"]) for p in bonds) == [(0, 0, 1), (0, 1, 0), (1, 0, 0)]


def test_info_and_convert(capsys, tmp_path, chain_file):
    info = run_json(capsys, "info", str(chain_file))
    assert info["grid"] == [20, 20, 20] and info["natoms"] == 1
    assert info["spacing_A"] == pytest.approx([0.15, 0.15, 0.15])
    assert main(["convert", str(chain_file), str(tmp_path / "ELFCAR.gz")]) == 0
    np.testing.assert_allclose(read(str(tmp_path / "ELFCAR.gz")).data, read(str(chain_file)).data, atol=1e-6)


def test_plot_writes_pngs(tmp_path, chain_file):
    prefix = tmp_path / "pic"
    assert main(["plot", str(chain_file), "-o", str(prefix), "--plane", "100", "--offset", "0.25"]) == 0
    for suffix in ("_slice.png", "_hist.png"):
        data = Path(f"{prefix}{suffix}").read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_shipped_example_network(capsys):
    doc = run_json(capsys, "network", str(EXAMPLE))
    assert 0.5 < doc["phi_3d"] < 0.7
    assert abs(doc["phi_3d"] - doc["methods"]["grid"]["phi_3d"]) < 0.02
    topo = run_json(capsys, "topology", str(EXAMPLE))
    assert topo["morse_sum"] == 0 and topo["counts"]["max"] == 64
