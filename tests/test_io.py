"""Round trips, conventions and reference behaviour of every file format."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from ase import Atoms

from conftest import external
from geoelf.field import Field
from geoelf.io import detect_format, read, write
from geoelf.io.common import fix_qe_elf


def assert_same(a: Field, b: Field, tol: float = 1e-6) -> None:
    assert a.shape == b.shape
    np.testing.assert_allclose(a.cell, b.cell, atol=1e-5)
    np.testing.assert_array_equal(a.atoms.numbers, b.atoms.numbers)
    np.testing.assert_allclose(a.atoms.positions, b.atoms.positions, atol=1e-5)
    np.testing.assert_allclose(a.data, b.data, atol=tol, rtol=0)


@pytest.mark.parametrize("name", ["f.cube", "f.cube.gz", "ELFCAR", "ELFCAR.gz", "f.xsf", "f.xsf.gz", "f.npz"])
def test_round_trip_each_format(tmp_path, triclinic_field, name):
    path = tmp_path / name
    write(triclinic_field, str(path))
    back = read(str(path))
    assert_same(triclinic_field, back, tol=0 if name.endswith("npz") else 1e-6)


def test_chain_cube_elfcar_xsf_cube(tmp_path, triclinic_field):
    write(triclinic_field, str(tmp_path / "a.cube"))
    write(read(str(tmp_path / "a.cube")), str(tmp_path / "ELFCAR"))
    write(read(str(tmp_path / "ELFCAR")), str(tmp_path / "b.xsf"))
    write(read(str(tmp_path / "b.xsf")), str(tmp_path / "c.cube"))
    assert_same(triclinic_field, read(str(tmp_path / "c.cube")), tol=2e-6)


def test_grid_convention_value_at_i_over_n(tmp_path):
    """data[i, j, k] is the value at fractional (i/N1, j/N2, k/N3): no end point."""
    shape = (6, 8, 10)
    g = np.stack(np.meshgrid(*[np.arange(n) / n for n in shape], indexing="ij"), -1)
    data = 0.5 + 0.25 * np.sin(2 * np.pi * g[..., 0]) + 0.1 * np.cos(2 * np.pi * g[..., 2])
    f = Field(data, Atoms("H", positions=[[0, 0, 0]], cell=[2.0, 2.5, 3.0], pbc=True))
    write(f, str(tmp_path / "g.xsf"))
    text = (tmp_path / "g.xsf").read_text()
    assert "7 9 11" in text  # a general grid repeats the end planes
    back = read(str(tmp_path / "g.xsf"))
    np.testing.assert_allclose(back.interpolate(np.array([[0.5, 0.25, 0.3]])), 0.5 + 0.1 * np.cos(2 * np.pi * 0.3), atol=2e-3)


def test_vasp_order_is_x_fastest_and_chgcar_divides_by_volume(tmp_path):
    cell = np.diag([2.0, 3.0, 4.0])
    atoms = Atoms("H2", scaled_positions=[[0, 0, 0], [0.5, 0.5, 0.5]], cell=cell, pbc=True)
    lines = ["test", "1.0", "2 0 0", "0 3 0", "0 0 4", "H", "2", "Direct", "0 0 0", "0.5 0.5 0.5", "", "2 3 4"]
    values = np.arange(24, dtype=float)  # written x fastest
    lines += [" ".join(map(str, values[i : i + 5])) for i in range(0, 24, 5)]
    (tmp_path / "CHGCAR").write_text("\n".join(lines) + "\naugmentation occupancies 1 2\n 0.1 0.2\n")
    (tmp_path / "ELFCAR").write_text("\n".join(lines) + "\n")
    elf = read(str(tmp_path / "ELFCAR"))
    assert elf.shape == (2, 3, 4)
    assert elf.data[1, 0, 0] == 1 and elf.data[0, 1, 0] == 2 and elf.data[0, 0, 1] == 6
    chg = read(str(tmp_path / "CHGCAR"))
    np.testing.assert_allclose(chg.data * 24.0, elf.data)
    assert atoms.get_volume() == pytest.approx(24.0)


def test_elfcar_spin_blocks(tmp_path):
    head = ["spin", "1.0", "2 0 0", "0 2 0", "0 0 2", "H", "1", "Direct", "0 0 0", "", "2 2 2"]
    up, down = np.full(8, 0.25), np.full(8, 0.75)
    text = "\n".join(head + [" ".join(map(str, up)), "", "2 2 2", " ".join(map(str, down))]) + "\n"
    (tmp_path / "ELFCAR").write_text(text)
    assert np.all(read(str(tmp_path / "ELFCAR")).data == 0.25)
    assert np.all(read(str(tmp_path / "ELFCAR"), block=1).data == 0.75)


def test_cube_angstrom_units_and_several_datasets(tmp_path):
    text = "\n".join([
        "c1", "c2",
        "   -1  0.0 0.0 0.0",
        "   -2  1.0 0.0 0.0",   # negative count: Å
        "   -2  0.0 1.0 0.0",
        "   -2  0.0 0.0 1.0",
        "    1  1.0  0.5 0.5 0.5",
        "    2  10 20",
        " ".join(str(v) for i in range(8) for v in (i / 10, 1 - i / 10)),
    ]) + "\n"
    (tmp_path / "two.cube").write_text(text)
    a = read(str(tmp_path / "two.cube"))
    b = read(str(tmp_path / "two.cube"), block=1)
    np.testing.assert_allclose(a.cell, np.eye(3) * 2)
    np.testing.assert_allclose(a.atoms.positions, [[0.5, 0.5, 0.5]])
    np.testing.assert_allclose(a.data.ravel(), np.arange(8) / 10)
    np.testing.assert_allclose(b.data.ravel(), 1 - np.arange(8) / 10)
    assert a.meta["n_datasets"] == 2


def test_format_detected_from_content(tmp_path, triclinic_field):
    for name, fmt in [("x.cube", "cube"), ("ELFCAR", "vasp"), ("x.xsf", "xsf"), ("x.npz", "npz")]:
        write(triclinic_field, str(tmp_path / name))
        renamed = tmp_path / f"noext_{fmt}"
        (tmp_path / name).rename(renamed)
        assert detect_format(str(renamed)) == fmt
        assert read(str(renamed)).shape == triclinic_field.shape


def test_gz_detected_by_magic_not_only_name(tmp_path, triclinic_field):
    write(triclinic_field, str(tmp_path / "x.cube"))
    (tmp_path / "y.cube").write_bytes(gzip.compress((tmp_path / "x.cube").read_bytes()))
    assert_same(read(str(tmp_path / "x.cube")), read(str(tmp_path / "y.cube")), tol=0)


@pytest.mark.parametrize("name", ["f.cube.gz", "ELFCAR.gz", "f.xsf.gz"])
def test_gz_output_bytes_depend_only_on_content(tmp_path, triclinic_field, name):
    # no time stamp or temp-file name in the header, so rewriting a shipped file leaves git clean
    write(triclinic_field, str(tmp_path / name))
    first = (tmp_path / name).read_bytes()
    (tmp_path / "again").mkdir()
    write(triclinic_field, str(tmp_path / "again" / name))
    assert (tmp_path / "again" / name).read_bytes() == first
    assert first[4:8] == b"\0\0\0\0"  # gzip MTIME field


def test_fix_qe_elf_formula():
    elf = np.array([0.0, 0.2, 0.5, 0.9, 1.0])
    expected = [0.0, 1 / (1 + 2 ** (4 / 3) * 4), 1 / (1 + 2 ** (4 / 3)), 1 / (1 + 2 ** (4 / 3) / 9), 1.0]
    np.testing.assert_allclose(fix_qe_elf(elf), expected)


def test_fix_qe_elf_reproduces_tcestime_correction():
    buggy = read(str(external("QE_2/CaYH20.ELF.cube.gz")), fix_qe=True)
    ok = read(str(external("QE_2/CaYH20_ok.ELF.cube.gz")))
    assert np.max(np.abs(buggy.data - ok.data)) < 1e-4


def test_external_files_read_with_expected_grids():
    assert read(str(external("QE_1/CaYH20.ELF.cube.gz"))).shape == (54, 54, 72)
    elfcar = read(str(external("VASP/ELFCAR.gz")))
    assert elfcar.shape == (28, 28, 36)
    assert elfcar.atoms.get_chemical_formula() == "H20CaY"
    assert 0 <= elfcar.data.min() and elfcar.data.max() <= 1
