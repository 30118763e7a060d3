"""The one-shot Kohn–Sham fields: PySCF as the oracle (integrals, functional, the whole one-shot on
orthorhombic and triclinic cells at Γ and 2×2×2), exact invariances, a cell against its supercell."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import make_supercell
from scipy.spatial.transform import Rotation

from geoelf.electronic.hydrogen import (
    BASIS_COEFFICIENTS,
    BASIS_EXPONENTS,
    C_LOC,
    R_LOC,
    basis_value,
    gaussian_pair_integrals,
)
from geoelf.electronic.oneshot import OneShotSettings, bloch_overlap_kinetic, bloch_phases, one_shot
from geoelf.errors import GeoelfError
from geoelf.units import BOHR

ORTHO = np.eye(3) * 3.2
TRICLINIC = np.array([[3.3, 0, 0], [0.6, 3.0, 0], [-0.4, 0.5, 3.4]])  # Å, smaller than the basis range
FINE = 0.15  # bohr: with the basis cut at 8.5 bohr, the one-shot then equals PySCF's to its integration error


def hydrogen(cell, n=4, seed=1):
    return Atoms(f"H{n}", scaled_positions=np.random.default_rng(seed).random((n, 3)), cell=cell, pbc=True)


def mesh_points(fields, atoms):
    axes = [np.arange(n) / n for n in fields.shape]
    return np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3) @ atoms.cell.array


@pytest.mark.pyscf
def test_basis_and_pseudopotential_are_pyscfs():
    from pyscf.pbc import gto

    (shell,) = gto.basis.load("gth-szv", "H")
    np.testing.assert_array_equal(np.array(shell[1:]), np.stack([BASIS_EXPONENTS, BASIS_COEFFICIENTS], 1))
    pseudo = gto.pseudo.load("gth-pbe", "H")
    assert pseudo[1] == R_LOC and tuple(pseudo[3]) == C_LOC and pseudo[4] == 0  # local part only


@pytest.mark.pyscf
def test_pbe_matches_libxc():
    from pyscf.dft import libxc

    from geoelf.electronic.pbe import pbe

    rng = np.random.default_rng(0)
    rho = 10 ** rng.uniform(-5, 1.5, 3000)
    grad = rng.normal(size=(3, 3000)) * rho * rng.uniform(0, 4, 3000)
    exc, vxc = libxc.eval_xc("PBE,PBE", np.vstack([rho, grad]), spin=0, deriv=1)[:2]
    e, v_rho, v_sigma = pbe(rho, np.sum(grad**2, axis=0))
    np.testing.assert_allclose(e, exc * rho, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(v_rho, vxc[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(v_sigma, vxc[1], rtol=1e-9, atol=1e-12)


@pytest.mark.pyscf
@pytest.mark.parametrize("cell", [ORTHO, TRICLINIC], ids=["orthorhombic", "triclinic"])
def test_bloch_overlap_and_kinetic_match_pyscf_integrals(cell):
    from pyscf.pbc import gto

    atoms = hydrogen(cell)
    c = gto.Cell(atom=[("H", tuple(p)) for p in atoms.positions], a=cell, unit="A", basis="gth-szv",
                 pseudo="gth-pbe", precision=1e-12, verbose=0).build()
    kpoints, _, _ = bloch_phases((2, 2, 2))
    absolute = c.get_abs_kpts(kpoints)
    overlap, kinetic = bloch_overlap_kinetic(atoms.cell.array / BOHR, atoms.get_scaled_positions(), kpoints, 26.0)
    np.testing.assert_allclose(overlap, np.asarray(c.pbc_intor("int1e_ovlp", kpts=absolute)).real, atol=1e-9)
    np.testing.assert_allclose(kinetic, np.asarray(c.pbc_intor("int1e_kin", kpts=absolute)).real, atol=1e-9)


@pytest.mark.pyscf
@pytest.mark.parametrize("cell", [ORTHO, TRICLINIC], ids=["orthorhombic", "triclinic"])
def test_one_shot_equals_pyscfs_at_gamma_and_2x2x2(cell):
    from pyscf_oneshot import pyscf_one_shot

    atoms = hydrogen(cell)
    kmeshes = [(1, 1, 1), (2, 2, 2)]
    # in the cell itself (no supercell for its 3.2 Å planes), at the k-points PySCF is given
    fine = {k: one_shot(atoms, OneShotSettings(kmesh=k, fock_spacing=FINE, basis_cutoff=8.5, min_plane_spacing=0))
            for k in kmeshes}
    default = {k: one_shot(atoms, OneShotSettings(kmesh=k, min_plane_spacing=0)) for k in kmeshes}
    assert fine[(1, 1, 1)].shape == default[(1, 1, 1)].shape
    oracle = pyscf_one_shot(atoms, kmeshes, mesh_points(fine[(1, 1, 1)], atoms))
    for k in kmeshes:
        ref = oracle[k]
        for fields, mean, worst, corr in ((fine[k], 3e-4, 3e-3, 0.99999), (default[k], 3e-3, 0.03, 0.9999)):
            elf = fields.elf.ravel()
            assert np.abs(elf - ref).mean() < mean and np.abs(elf - ref).max() < worst
            assert np.corrcoef(elf, ref)[0, 1] > corr
        assert abs(fine[k].electrons - len(atoms)) < 2e-3
    # k-sampling matters in so small a cell: Γ and 2×2×2 differ by far more than the agreement above
    assert np.abs(oracle[(1, 1, 1)] - oracle[(2, 2, 2)]).mean() > 0.01


def test_exactly_invariant_under_rotation_permutation_and_lattice_translation():
    atoms = hydrogen(TRICLINIC, n=5, seed=3)
    settings = OneShotSettings(kmesh=(2, 1, 2))
    base = one_shot(atoms, settings)
    rotated = atoms.copy()
    rotated.set_cell(Rotation.from_euler("xyz", [0.3, -1.1, 2.0]).apply(atoms.cell.array), scale_atoms=True)
    permuted = atoms[[3, 0, 4, 2, 1]]
    shifted = atoms.copy()
    shifted.positions[2] += atoms.cell.array[0] - 2 * atoms.cell.array[2]
    for other in (rotated, permuted, shifted):
        fields = one_shot(other, settings)
        np.testing.assert_allclose(fields.elf, base.elf, atol=1e-9)
        np.testing.assert_allclose(fields.rho, base.rho, rtol=1e-9, atol=1e-12)
    grad = one_shot(rotated, settings).grad  # ∇ρ turns with the structure
    turned = np.einsum("xy,y...->x...", Rotation.from_euler("xyz", [0.3, -1.1, 2.0]).as_matrix(), base.grad)
    np.testing.assert_allclose(grad, turned, atol=1e-9)


def test_a_cell_at_2x2x2_k_points_is_its_2x2x2_supercell_at_gamma(monkeypatch):
    """The k-points {0, ½}³ of a cell are the Γ point of its doubled cell: the same fields (to rounding
    in float64; the shipped float32 matrix elements move the ELF by under 5·10⁻⁵)."""
    from geoelf.electronic import oneshot

    cell = np.eye(3) * 4.8 * BOHR  # 16 mesh points along each axis at 0.3 bohr, 32 in the supercell
    atoms = Atoms("H2", positions=[[0.2, 0.3, 0.1], [0.9, 0.8, 1.3]], cell=cell, pbc=True)
    spacing = {"fock_spacing": 0.3, "field_spacing": 0.3, "min_plane_spacing": 0}
    shipped = one_shot(atoms, OneShotSettings(kmesh=(2, 2, 2), **spacing))
    monkeypatch.setattr(oneshot, "FOCK_DTYPE", np.float64)
    small = one_shot(atoms, OneShotSettings(kmesh=(2, 2, 2), **spacing))
    big = one_shot(make_supercell(atoms, 2 * np.eye(3)), OneShotSettings(kmesh=(1, 1, 1), **spacing))
    assert small.shape == (16, 16, 16) and big.shape == (32, 32, 32)
    np.testing.assert_allclose(big.elf[:16, :16, :16], small.elf, atol=1e-8)
    np.testing.assert_allclose(big.rho[16:, :16, 16:], small.rho, rtol=1e-8)
    np.testing.assert_allclose(shipped.elf, small.elf, atol=5e-5)
    assert small.electrons == pytest.approx(2.0, abs=1e-3) and big.electrons == pytest.approx(16.0, abs=1e-2)


def test_one_molecule_has_elf_one_everywhere_and_its_bond_orbital():
    """One doubly occupied orbital: τ = τ_W, so χ = 0 and ELF = 1 at every point; one bonding level below μ."""
    atoms = Atoms("H2", positions=[[-0.37, 0, 0], [0.37, 0, 0]], cell=np.eye(3) * 5.0, pbc=True)
    fields = one_shot(atoms, OneShotSettings(kmesh=(1, 1, 1)))
    np.testing.assert_allclose(fields.elf, 1.0, atol=1e-9)
    energies, occupations = fields.energies[0], fields.occupations[0]
    assert energies[0] < fields.fermi_level < energies[1] and occupations[0] == pytest.approx(2.0)
    assert fields.electrons == pytest.approx(2.0, abs=1e-3)
    # the bonding orbital (φ_A + φ_B)/√(2(1 + S)) holds both electrons: ρ at the bond centre (mesh point 0) is
    # 4φ(d/2)²/(1 + S), less 0.2 % from the periodic images' overlap at Γ
    d = 0.74 / BOHR
    overlap, _ = gaussian_pair_integrals(np.array([d * d]))
    centre = 4 * basis_value(np.array([d * d / 4]))[0] ** 2 / (1 + overlap[0])
    assert fields.rho[0, 0, 0] == pytest.approx(centre, rel=3e-3)


def test_the_first_call_loads_the_kernels_on_a_small_cell_and_says_so_if_slow(caplog, monkeypatch):
    """The first one-shot of a process compiles (or loads) the kernels on a 2-atom cell, with a notice
    past COMPILE_NOTICE_S (here 0 s); later calls, large cells included, give none."""
    from geoelf.electronic import oneshot

    monkeypatch.setattr(oneshot, "COMPILE_NOTICE_S", 0.0)
    monkeypatch.setattr(oneshot, "_first_call", [True])
    atoms = hydrogen(ORTHO)
    with caplog.at_level("WARNING", logger="geoelf.electronic.oneshot"):
        first = one_shot(atoms, OneShotSettings(kmesh=(1, 1, 1)))
        again = one_shot(atoms, OneShotSettings(kmesh=(1, 1, 1)))
    assert [r.getMessage() for r in caplog.records] == [oneshot.COMPILE_NOTICE]
    np.testing.assert_array_equal(first.elf, again.elf)


def test_refuses_what_it_cannot_compute():
    with pytest.raises(GeoelfError, match="periodic hydrogen"):
        one_shot(Atoms("HLi", positions=[[0, 0, 0], [1, 0, 0]], cell=np.eye(3) * 4, pbc=True))
    with pytest.raises(GeoelfError, match="k-mesh must be three of 1 or 2"):
        OneShotSettings(kmesh=(3, 3, 3))


@pytest.mark.parametrize("shape", [(10, 9, 11), (5, 4, 7), (24, 24, 24)])
def test_the_channels_on_a_grid_axis_by_axis_equal_the_spline_at_each_point(shape):
    """``ChannelGrid`` (one axis at a time) equals the 64-tap spline at every point of any planes, on
    grids finer and coarser than the coefficients' mesh."""
    from geoelf.electronic.features import channel_grid, channels_at

    coef = np.random.default_rng(3).normal(size=(5, 7, 8, 6))
    grid = channel_grid(coef, shape)
    for i0, i1 in [(0, shape[0]), (1, 2), (shape[0] - 2, shape[0])]:
        axes = [np.arange(i0, i1) / shape[0], np.arange(shape[1]) / shape[1], np.arange(shape[2]) / shape[2]]
        frac = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
        np.testing.assert_allclose(grid.planes(i0, i1), channels_at(coef, frac), rtol=0, atol=2e-6)
    assert grid.planes(0, 1).dtype == np.float32 and grid.planes(0, 2).shape == (2 * shape[1] * shape[2], 5)


def test_an_electronic_model_reads_the_channels_alike_on_grids_and_at_points(tmp_path):
    """The grid path (fused kernel, channels on the grid axis by axis) equals the torch path at the same
    points; warm-started from a model without the channels, it first predicts exactly that model."""
    import torch

    from conftest import package_extra
    from geoelf.electronic.features import CHANNELS
    from geoelf.model import package
    from geoelf.model.network import NetConfig, ProbeNet
    from geoelf.model.predict import Predictor
    from geoelf.train.loop import warm_start

    config = {"features": 12, "vector_features": 6, "rbf": 8, "layers": 2, "cutoff_atom": 3.0, "cutoff_probe": 2.0,
              "hidden": 16, "tensor_features": 4, "l3_features": 2, "l4_features": 2}
    torch.manual_seed(0)
    plain = ProbeNet(NetConfig(**config))
    package.save(plain, tmp_path / "plain", package_extra("plain", plain))
    net = ProbeNet(NetConfig(**config, electronic_channels=len(CHANNELS)))
    net.set_electronic_scale(torch.randn(100, len(CHANNELS)) * 2 + 1)
    warm_start(net, str(tmp_path / "plain"))
    package.save(net, tmp_path / "electronic", package_extra("electronic", net))
    atoms = hydrogen(TRICLINIC, n=6, seed=5)
    shape = (10, 9, 11)
    frac = np.stack(np.meshgrid(*[np.arange(n) / n for n in shape], indexing="ij"), -1).reshape(-1, 3)
    before = Predictor(str(tmp_path / "plain"), precision="float32").points(atoms, frac @ atoms.cell.array)
    with torch.no_grad():  # give the new inputs weight, so that the comparisons below see them
        net.head[0].weight[:, -len(CHANNELS):] = 0.3 * torch.randn(net.head[0].weight.shape[0], len(CHANNELS))
    started = Predictor(str(tmp_path / "electronic"), precision="float32").points(atoms, frac @ atoms.cell.array)
    np.testing.assert_allclose(started, before, atol=1e-6)  # zero weights on the channels: the source model
    package.save(net, tmp_path / "electronic", package_extra("electronic", net))
    pred = Predictor(str(tmp_path / "electronic"), precision="float32")
    grid = pred.grid(atoms, shape, task_points=200).field.data.ravel()  # several tasks
    direct = pred.points(atoms, frac @ atoms.cell.array, chunk=333)
    np.testing.assert_allclose(grid, direct, atol=2e-6)
    assert np.abs(direct - before).max() > 0.01  # the channels now move the prediction


def test_training_reads_the_channels_and_keeps_their_scale(tmp_path):
    """A short run of an electronic model: its probes carry the channels, the standardisation learnt
    from the training probes ships in the package, and the package predicts with them."""
    from safetensors.numpy import load_file

    from geoelf.model.predict import Predictor
    from geoelf.train.config import load_config
    from geoelf.train.loop import train

    net = {"features": 8, "vector_features": 4, "rbf": 6, "layers": 1, "cutoff_atom": 2.5, "cutoff_probe": 1.8,
           "hidden": 8, "electronic_channels": 15}
    cfg = load_config(None, [f"out={tmp_path / 'run'}", "synthetic=2", "steps=4", "val_every=2", "val_probes=200",
                             "batch_structures=1", "probes_per_structure=50", "minutes=5"])
    cfg.net = net
    folder = train(cfg, progress=False)
    weights = load_file(str(folder / "weights.safetensors"))
    assert weights["electronic_std"].shape == (15,) and np.all(weights["electronic_std"] > 0)
    assert np.abs(weights["electronic_mean"]).max() > 0.1  # learnt from the probes, not the initial zeros
    atoms = hydrogen(TRICLINIC, n=6, seed=2)
    field = Predictor(str(folder), precision="float32").grid(atoms, (8, 8, 8)).field.data
    assert 0 < field.min() and field.max() < 1


def test_a_thin_cell_is_computed_in_the_supercell_that_samples_it_like_the_fluid():
    """Lattice planes closer than min_plane_spacing: the one-shot runs in the repeated cell (here 2×2×2)
    and folds back, so the cell's fields are its explicit supercell's, and it holds its own electrons."""
    from geoelf.electronic.oneshot import supercell_repeats

    cell = np.eye(3) * 4.8 * BOHR  # 2.54 Å: 12 field-mesh points at 0.4 bohr, 16 Fock-mesh points at 0.3
    atoms = Atoms("H2", positions=[[0.2, 0.3, 0.1], [0.9, 0.8, 1.3]], cell=cell, pbc=True)
    assert supercell_repeats(cell / BOHR, 4.2 / BOHR) == (2, 2, 2)
    thin = one_shot(atoms)
    explicit = one_shot(atoms.repeat(2))
    assert thin.shape == (12, 12, 12) and explicit.shape == (24, 24, 24)
    np.testing.assert_allclose(thin.elf, explicit.elf[:12, :12, :12], atol=1e-9)
    np.testing.assert_allclose(thin.elf, explicit.elf[12:, 12:, 12:], atol=2e-5)  # periodic with the cell
    assert thin.electrons == pytest.approx(2.0, abs=2e-3)
    tilted = np.array([[2.5, 0, 0], [2.0, 1.5, 0], [0, 0, 6.0]])  # planes 1.5 Å apart across a₁ and a₂
    assert supercell_repeats(tilted / BOHR, 4.2 / BOHR) == (3, 3, 1)  # by plane spacing, not |a₁| = 2.5 Å


def test_a_model_sets_the_plane_spacing_of_its_one_shot(tmp_path):
    """A network trained with electronic_plane_spacing = 3.0 Å computes a cell whose planes lie 3.6 Å
    apart in the cell itself, where the default (4.2 Å, and every package made without the setting)
    repeats it 2×2×2; its channels are that setting's own, and the training cache keeps the two apart."""
    import torch

    from conftest import package_extra
    from geoelf.electronic.features import electronic_channels, settings_for
    from geoelf.electronic.oneshot import computed_meshes
    from geoelf.model import package
    from geoelf.model.network import NetConfig, ProbeNet
    from geoelf.model.predict import Predictor
    from geoelf.train.data import cached_channels

    atoms = hydrogen(np.eye(3) * 3.6, n=4, seed=3)
    assert computed_meshes(atoms, settings_for(None))[0] == (2, 2, 2)
    assert computed_meshes(atoms, settings_for(3.0))[0] == (1, 1, 1)
    config = {"features": 8, "vector_features": 4, "rbf": 6, "layers": 1, "cutoff_atom": 2.5, "cutoff_probe": 1.8,
              "hidden": 8, "electronic_channels": 15}
    torch.manual_seed(0)
    for spacing in (None, 3.0):
        net = ProbeNet(NetConfig(**config, electronic_plane_spacing=spacing))
        package.save(net, tmp_path / str(spacing), package_extra(str(spacing), net))
    default, close = (Predictor(str(tmp_path / name), precision="float32") for name in ("None", "3.0"))
    np.testing.assert_array_equal(close.electronic_coefficients(atoms), electronic_channels(atoms, settings_for(3.0)))
    np.testing.assert_array_equal(default.electronic_coefficients(atoms), electronic_channels(atoms))
    assert np.abs(close.electronic_coefficients(atoms) - default.electronic_coefficients(atoms)).max() > 1e-3
    assert close.structure_bytes(atoms) < default.structure_bytes(atoms)  # 4 atoms, not 32
    sample = tmp_path / "d" / "s.h5"
    first, second = (cached_channels(tmp_path / "d", sample, atoms, settings_for(x)) for x in (None, 3.0))
    assert len(list((tmp_path / "d" / ".cache").iterdir())) == 2  # a folder per setting
    np.testing.assert_array_equal(second, electronic_channels(atoms, settings_for(3.0)).astype(np.float32))
    assert np.abs(first - second).max() > 1e-3
