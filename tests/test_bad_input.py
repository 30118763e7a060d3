"""Bad input: one-line error naming the file, exit status 2, never a traceback."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geoelf.cli.main import main
from geoelf.errors import GeoelfError
from geoelf.field import Field
from geoelf.io import read, write
from geoelf.model.package import DEFAULT_MODEL


def run_cli(capsys, *argv):
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def valid_files(tmp_path, field: Field) -> dict[str, bytes]:
    files = {}
    for name in ("v.cube", "ELFCAR", "v.xsf", "v.npz"):
        write(field, str(tmp_path / name))
        files[name] = (tmp_path / name).read_bytes()
    return files


CASES = {
    "empty": lambda good: b"",
    "binary": lambda good: bytes(range(256)) * 4,
    "truncated": lambda good: good[: len(good) // 2],
    "garbled": lambda good: good.replace(b"E-0", b"X-0", 3),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("name", ["v.cube", "ELFCAR", "v.xsf", "v.npz"])
def test_corrupt_files_give_one_line_exit_2(tmp_path, capsys, triclinic_field, case, name):
    good = valid_files(tmp_path, triclinic_field)[name]
    bad = CASES[case](good)
    if case == "garbled" and name == "v.npz":
        mid = len(good) // 2
        bad = good[:mid] + b"garbage!" + good[mid + 8 :]
    path = tmp_path / f"bad_{name}"
    path.write_bytes(bad)
    rc, out, err = run_cli(capsys, "info", str(path))
    assert rc == 2, (case, name, out, err)
    assert err.count("\n") == 1 and str(path) in err and "Traceback" not in err


def test_nan_singular_cell_and_range(tmp_path, capsys, triclinic_field):
    nan = triclinic_field.with_data(np.where(triclinic_field.data > 0.5, np.nan, triclinic_field.data))
    write(nan, str(tmp_path / "nan.cube"))
    text = (tmp_path / "nan.cube").read_text().replace("NAN", "nan")
    (tmp_path / "nan.cube").write_text(text)
    rc, _, err = run_cli(capsys, "info", str(tmp_path / "nan.cube"))
    assert rc == 2 and "NaN" in err

    write(triclinic_field, str(tmp_path / "ok.cube"))
    lines = (tmp_path / "ok.cube").read_text().splitlines()
    lines[4] = lines[3]  # b parallel to a: singular cell
    (tmp_path / "singular.cube").write_text("\n".join(lines) + "\n")
    rc, _, err = run_cli(capsys, "info", str(tmp_path / "singular.cube"))
    assert rc == 2 and "singular" in err

    big = triclinic_field.with_data(triclinic_field.data * 3)
    write(big, str(tmp_path / "big.cube"))
    rc, _, err = run_cli(capsys, "network", str(tmp_path / "big.cube"))
    assert rc == 2 and "outside [0, 1]" in err


def test_wrong_counts(tmp_path, capsys, triclinic_field):
    write(triclinic_field, str(tmp_path / "ok.cube"))
    lines = (tmp_path / "ok.cube").read_text().splitlines()
    lines[3] = lines[3].replace("14", "15", 1)  # announce more points than stored
    (tmp_path / "count.cube").write_text("\n".join(lines) + "\n")
    rc, _, err = run_cli(capsys, "info", str(tmp_path / "count.cube"))
    assert rc == 2 and "truncated" in err


def test_missing_file_and_bad_option(tmp_path, capsys):
    rc, _, err = run_cli(capsys, "network", str(tmp_path / "nope.cube"))
    assert rc == 2 and "no such file" in err
    with pytest.raises(SystemExit) as exc:
        main(["network", "--no-such-option", "x"])
    assert exc.value.code == 2


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_readers_raise_only_geoelf_error(tmp_path_factory, data):
    """Property: any mutation of a valid file either reads or raises GeoelfError, nothing else."""
    from ase import Atoms

    tmp = tmp_path_factory.mktemp("fuzz")
    atoms = Atoms("H2", scaled_positions=[[0, 0, 0], [0.3, 0.4, 0.5]], cell=[2.0, 2.2, 2.4], pbc=True)
    field = Field(np.linspace(0, 1, 4 * 5 * 6).reshape(4, 5, 6), atoms)
    name = data.draw(st.sampled_from(["v.cube", "ELFCAR", "v.xsf", "v.npz", "v.cube.gz"]))
    write(field, str(tmp / name))
    raw = bytearray((tmp / name).read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        kind = data.draw(st.sampled_from(["cut", "flip", "insert", "delete"]))
        pos = data.draw(st.integers(0, max(0, len(raw) - 1)))
        if kind == "cut":
            raw = raw[:pos]
        elif kind == "flip" and raw:
            raw[pos] = data.draw(st.integers(0, 255))
        elif kind == "insert":
            raw[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
        elif raw:
            del raw[pos : pos + data.draw(st.integers(1, 16))]
    (tmp / name).write_bytes(bytes(raw))
    try:
        read(str(tmp / name))
    except GeoelfError as exc:
        assert str(tmp / name) in str(exc)


@pytest.mark.parametrize("argv, message", [
    (["screen", "t.extxyz", "-o", "r.parquet", "--chunk", "0"], "--chunk: 0 must be at least 1"),
    (["screen", "t.extxyz", "-o", "r.parquet", "--workers", "two"], "--workers: 'two' is not an integer"),
    (["screen", "t.extxyz", "-o", "r.parquet", "--isovalue", "-0.1"], "--isovalue: -0.1 is outside [0, 1]"),
    (["predict", "t.extxyz", "--spacing", "0"], "--spacing: 0 must be a positive number"),
    (["predict", "t.extxyz", "--grid", "48", "0", "48"], "--grid: 0 must be at least 1"),
    (["predict", "t.extxyz", "--threads", "-2"], "--threads: -2 must be at least 1"),
    (["plot", "e.cube", "--resolution", "0"], "--resolution: 0 must be at least 1"),
    (["network", "e.cube", "--isovalue", "1.5"], "--isovalue: 1.5 is outside [0, 1]"),
    (["plot", "e.cube", "--isovalue", "2"], "--isovalue: 2 is outside [0, 1]"),
])
def test_bad_numeric_options_give_one_line_exit_2(capsys, argv, message):
    with pytest.raises(SystemExit) as stop:  # argparse exits itself, through the package's parser
        main(argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and message in err and len(err.strip().splitlines()) == 1


EXAMPLE = "src/geoelf/examples/h64_rs1.33_T2800.extxyz"


def one_line(capsys, *argv) -> str:
    """Run the CLI, expect exit 2 and exactly one line on stderr; return it."""
    assert main(list(argv)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("geoelf: error:"), err
    return err


def test_the_one_shot_calculation_counts_in_the_memory_check(capsys, tmp_path):
    """A 2,000-atom cell: the default model's one-shot (K × N² arrays, about 1.5 GB) is refused under
    --max-memory 1.5 GB with advice to use the geometric model, whose estimate is the grid's alone."""
    from ase.io import write as write_structure

    from geoelf.dft.md import random_molecular_start
    from geoelf.electronic.oneshot import memory_bytes
    from geoelf.model.grids import grid_shape

    atoms = random_molecular_start(2000, 1.45, seed=1)
    write_structure(tmp_path / "big.extxyz", atoms)
    err = one_line(capsys, "predict", str(tmp_path / "big.extxyz"), "--grid", "8", "8", "8", "--max-memory", "1.5")
    assert "8×8×8 grid with the one-shot calculation needs about 2.1" in err and "--model dense-h-v1" in err
    assert 1.4 * 2**30 < memory_bytes(atoms) < 1.7 * 2**30
    assert grid_shape(atoms.cell.array, (8, 8, 8), max_memory_gb=1.5) == (8, 8, 8)


def test_resource_options_are_refused_before_allocating(capsys, tmp_path):
    assert "points along a lattice vector" in one_line(capsys, "predict", EXAMPLE, "--spacing", "1e-9")
    assert "needs about" in one_line(capsys, "predict", EXAMPLE, "--spacing", "0.001")
    assert "more than the --max-memory 0.5 GB" in one_line(capsys, "predict", EXAMPLE, "--grid", "400", "400", "400", "--max-memory", "0.5")
    assert "100000-pixel slice needs about" in one_line(capsys, "plot", "src/geoelf/examples/h64_rs1.25_T1200.ELF.cube.gz",
                                                          "--resolution", "100000", "-o", str(tmp_path / "p"))


def test_predict_checks_the_output_name_and_every_frame_before_predicting(capsys, tmp_path):
    from ase.io import read
    from ase.io import write as write_structure

    assert "cannot tell the output format" in one_line(capsys, "predict", EXAMPLE, "-o", str(tmp_path / "p.foo"))
    assert "output's folder does not exist" in one_line(capsys, "predict", EXAMPLE, "-o", str(tmp_path / "no" / "p.cube"))
    atoms = read(EXAMPLE)
    frames = [atoms.copy() for _ in range(3)]
    frames[2][5].symbol = "Li"
    write_structure(tmp_path / "t.extxyz", frames)
    err = one_line(capsys, "predict", str(tmp_path / "t.extxyz"), "-o", str(tmp_path / "e.cube"))
    assert f"{tmp_path / 't.extxyz'} frame 2: model {DEFAULT_MODEL} covers H only; found Li" in err
    assert not list(tmp_path.glob("e*.cube"))  # nothing written before the check


def test_two_atoms_at_one_place_are_refused(capsys, tmp_path):
    from ase.io import read
    from ase.io import write as write_structure

    atoms = read(EXAMPLE)
    atoms.positions[7] = atoms.positions[3]
    write_structure(tmp_path / "dup.extxyz", atoms)
    assert "atoms 3 and 7 sit at the same place" in one_line(capsys, "predict", str(tmp_path / "dup.extxyz"))


def test_like_refuses_a_reference_of_another_cell(capsys, tmp_path):
    err = one_line(capsys, "predict", EXAMPLE, "--like", "src/geoelf/examples/h64_rs1.25_T1200.ELF.cube.gz")
    assert "--like: the cell of" in err and "differs from this file's cell" in err


def test_predict_and_screen_run_the_promolecular_baseline(capsys, tmp_path):
    import json

    assert main(["predict", EXAMPLE, "--model", "promolecular", "--grid", "12", "12", "12", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["model"] == "promolecular" and doc["provenance"]["model"] == "promolecular" and len(doc["input_sha256"]) == 64
    assert main(["screen", EXAMPLE, "-o", str(tmp_path / "p.csv"), "--model", "promolecular", "--grid", "12", "12", "12",
                 "--workers", "1"]) == 0
    assert "1 frames" in capsys.readouterr().out and "promolecular" in (tmp_path / "p.csv").read_text()


def test_evaluate_prints_whole_paths_and_its_provenance(capsys, tmp_path):
    import shutil

    deep = tmp_path / ("a_rather_long_folder_name_" * 3) / "h64_rs1.33_T2800.ELF.cube.gz"
    deep.parent.mkdir(parents=True)
    shutil.copy("src/geoelf/examples/h64_rs1.33_T2800.ELF.cube.gz", deep)
    assert main(["evaluate", str(deep), "--model", "promolecular", "--no-topology"]) == 0
    out = capsys.readouterr().out
    assert str(deep) in out and "provenance" in out
