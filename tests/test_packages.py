"""Model packages are validated before use: schema, recorded sha256 of weights and settings, shapes.

A hand-edited or damaged package must give the package's own one-line error, never a traceback and
never a silently different prediction.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import package_extra
from geoelf.cli.main import main
from geoelf.errors import GeoelfError
from geoelf.model import package
from geoelf.model.network import NetConfig, ProbeNet
from geoelf.provenance import canonical_sha256

TINY = NetConfig(features=6, vector_features=3, rbf=4, layers=1, cutoff_atom=2.5, cutoff_probe=1.8, hidden=6)


@pytest.fixture(scope="module")
def sealed(tmp_path_factory) -> Path:
    """A valid package of a tiny network."""
    torch.manual_seed(0)
    net = ProbeNet(TINY)
    return package.save(net, tmp_path_factory.mktemp("pkg") / "tiny", package_extra("tiny", net))


def copy_of(folder: Path, target: Path) -> Path:
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(folder, target)
    return target


def edit_config(folder: Path, edit) -> None:
    config = json.loads((folder / "config.json").read_text())
    config = edit(config)
    (folder / "config.json").write_text(json.dumps(config) if not isinstance(config, str) else config)


def test_a_sealed_package_loads_and_records_its_hashes(sealed):
    net, config = package.load(str(sealed))
    assert set(config["sha256"]) == {"weights", "config"}
    assert package.provenance(config)["weights_sha256"] == config["sha256"]["weights"]
    assert net.config.cutoff_probe == TINY.cutoff_probe


# each edit a user has made by hand, and the words the one-line error must contain
HAND_EDITS = {
    "features changed": (lambda c: {**c, "net": {**c["net"], "features": 7}}, "feature_mean must be a list of 7"),
    "vector channels changed": (lambda c: {**c, "net": {**c["net"], "vector_features": 5}}, "sha256.config does not match"),
    "renamed": (lambda c: {**c, "name": "dense-h-v9"}, "sha256.config does not match"),
    "a JSON list": (lambda c: [c], "must hold a JSON object"),
    "no net block": (lambda c: {k: v for k, v in c.items() if k != "net"}, "'net' is missing"),
    "a width as text": (lambda c: {**c, "net": {**c["net"], "features": "48"}}, "net.features must be an integer"),
    "a negative width": (lambda c: {**c, "net": {**c["net"], "hidden": -4}}, "net.hidden must be an integer"),
    "probe cutoff 1.8 -> 3": (lambda c: {**c, "net": {**c["net"], "cutoff_probe": 3.0}}, "sha256.config does not match"),
    "unknown architecture": (lambda c: {**c, "architecture": "transformer"}, "unknown architecture 'transformer'"),
    "lithium added": (lambda c: {**c, "net": {**c["net"], "species": [1, 3]}}, "net.species [1, 3]"),
    "domain removed": (lambda c: {k: v for k, v in c.items() if k != "domain"}, "'domain' is missing"),
    "unknown setting": (lambda c: {**c, "net": {**c["net"], "dropout": 0.1}}, "unknown net settings 'dropout'"),
    "retired setting on": (lambda c: {**c, "net": {**c["net"], "vector_gram": True}}, "net.vector_gram = True is a retired setting"),
    "invalid JSON": (lambda c: "{net: ", "unreadable config.json"),
}


@pytest.mark.parametrize("case", sorted(HAND_EDITS))
def test_a_hand_edited_config_is_one_line_through_the_cli(case, sealed, tmp_path, capsys):
    folder = copy_of(sealed, tmp_path / "edited")
    edit, words = HAND_EDITS[case]
    edit_config(folder, edit)
    structure = tmp_path / "h2.extxyz"
    structure.write_text("2\nLattice=\"3 0 0 0 3 0 0 0 3\" Properties=species:S:1:pos:R:3 pbc=\"T T T\"\nH 0 0 0\nH 0.75 0 0\n")
    assert main(["predict", str(structure), "--model", str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith(f"geoelf: error: {folder}") and words in err


def test_swapped_weights_are_refused_by_hash_and_by_shape(sealed, tmp_path):
    folder = copy_of(sealed, tmp_path / "swapped")
    other = ProbeNet(NetConfig(**{**TINY.as_dict(), "hidden": 9}))
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in other.state_dict().items()}, str(folder / "weights.safetensors"))
    with pytest.raises(GeoelfError, match="does not match the sha256"):
        package.load(str(folder))
    edit_config(folder, lambda c: package.seal(c, folder))  # hashes made to fit: the shapes still differ
    with pytest.raises(GeoelfError, match=r"head\..* has shape"):
        package.load(str(folder))


json_values = st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True)
                           | st.text(max_size=8), lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=6)


def _paths(config: dict) -> list[tuple[str, ...]]:
    out = [(k,) for k in config]
    for block in ("net", "domain", "sha256"):
        if isinstance(config.get(block), dict):
            out += [(block, k) for k in config[block]]
    return out


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), reseal=st.booleans())
def test_fuzzed_packages_load_or_give_the_package_error(sealed, tmp_path, data, reseal):
    """Mutate a key (delete, retype, change the value) or the weights (truncate, flip a byte); with or
    without hashes recomputed to fit. Only GeoelfError may come out, and an unsealed change never loads."""
    folder = copy_of(sealed, tmp_path / "fuzz")
    config = json.loads((folder / "config.json").read_text())
    before = canonical_sha256(config)
    what = data.draw(st.sampled_from(["delete", "replace", "scale", "truncate", "flip"]))
    if what in ("truncate", "flip"):
        blob = bytearray((folder / "weights.safetensors").read_bytes())
        at = data.draw(st.integers(0, len(blob) - 1))
        if what == "truncate":
            del blob[at:]
        else:
            blob[at] ^= 0xFF
        (folder / "weights.safetensors").write_bytes(bytes(blob))
    else:
        path = data.draw(st.sampled_from(_paths(config)))
        parent = config if len(path) == 1 else config[path[0]]
        if what == "delete":
            del parent[path[-1]]
        elif what == "replace":
            parent[path[-1]] = data.draw(json_values)
        elif isinstance(parent[path[-1]], (int, float)) and not isinstance(parent[path[-1]], bool):
            parent[path[-1]] = parent[path[-1]] * data.draw(st.sampled_from([-1, 0, 2, 1e9]))
    if reseal and isinstance(config.get("net"), dict):
        config = package.seal(config, folder)
    (folder / "config.json").write_text(json.dumps(config))
    changed = canonical_sha256(config) != before if not reseal else False
    try:
        package.load(str(folder))
    except GeoelfError as exc:
        assert "\n" not in str(exc) and str(folder) in str(exc)
    else:
        assert reseal or (not changed and what not in ("truncate", "flip")), f"{what} {config} loaded"


def test_models_describes_every_shipped_model_and_refuses_an_edited_one(sealed, tmp_path, capsys):
    """``geoelf models``: one row per shipped model, the default starred, what each reads and its domain
    as its config holds them; a package given by path likewise; a hand-edited one is the one-line error."""
    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == package.builtin_models()
    assert [r["name"] for r in rows if r["default"]] == [package.DEFAULT_MODEL]
    for r in rows:
        _, config = package.read_config(r["name"])
        assert r["rs_range_bohr"] == config["domain"]["rs_range"] and r["weights_sha256"] == config["sha256"]["weights"]
        electronic = bool(config["net"].get("electronic_channels"))
        assert r["inputs"] == ("positions + one-shot Kohn–Sham channels" if electronic else "positions")
        assert r["error_model"] == (package.resolve(r["name"]) / "uncertainty.json").exists()
    assert main(["models"]) == 0
    text = capsys.readouterr().out
    assert f"{package.DEFAULT_MODEL} *" in text and "the default" in text
    assert main(["models", str(sealed), "--json"]) == 0
    (tiny,) = json.loads(capsys.readouterr().out)
    assert tiny["name"] == "tiny" and not tiny["default"] and not tiny["error_model"] and tiny["inputs"] == "positions"
    folder = copy_of(sealed, tmp_path / "edited")
    edit_config(folder, lambda c: {**c, "net": {**c["net"], "cutoff_probe": 3.0}})
    assert main(["models", str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith(f"geoelf: error: {folder}") and "sha256.config does not match" in err
