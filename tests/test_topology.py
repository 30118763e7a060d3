"""Critical points and networking values on fields with known answers, and on reference files."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms

from conftest import cosine_field, external, gaussian_field, gaussian_value
from geoelf.io import read
from geoelf.topology.critical_points import critical_points
from geoelf.topology.network import analyse, h_network, morse_counts, networking
from geoelf.topology.percolation import percolate
from percolation_reference import periodic_dimension


def test_cosine_field_critical_points_are_exact():
    """cos + cos + cos: one maximum, three bond, three ring points and one cage, at known spots."""
    f = cosine_field(1, 1, 1, shape=(20, 20, 20), shift=(0.13, 0.31, 0.07))
    cp = critical_points(f)
    assert cp.counts() == {"max": 1, "bond": 3, "ring": 3, "cage": 1}
    assert cp.morse_sum == 0
    shift = np.array([0.13, 0.31, 0.07])
    expected = {0: [[0, 0, 0]], 1: [[0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5]], 2: [[0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]], 3: [[0.5, 0.5, 0.5]]}
    values = {0: 1.0, 1: 0.5 + 1 / 6, 2: 0.5 - 1 / 6, 3: 0.0}
    for kind, spots in expected.items():
        got = cp.frac[cp.kind == kind]
        want = np.mod(np.array(spots) + shift, 1.0)
        d = got[:, None, :] - want[None, :, :]
        d -= np.rint(d)
        assert np.max(np.min(np.linalg.norm(d, axis=2), axis=1)) < 2e-3
        np.testing.assert_allclose(cp.value[cp.kind == kind], values[kind], atol=2e-3)


def test_morse_sum_zero_on_triclinic_gaussian_field(triclinic_field):
    cp = critical_points(triclinic_field)
    assert cp.morse_sum == 0
    assert cp.counts()["max"] >= 1


@pytest.mark.parametrize("amps, dims", [((0.2, 0.3, 0.5), (0.8, 0.7, 0.5)), ((0.3, 0.3, 0.6), (0.75, 0.75, 0.5)), ((1, 1, 1), (2 / 3, 2 / 3, 2 / 3))])
def test_chain_sheet_network_phi(amps, dims):
    """A chain (φ_1D > φ_2D), a sheet (φ_1D = φ_2D > φ_3D) and an isotropic 3D network."""
    a, b, c = amps
    f = cosine_field(a, b, c, shape=(24, 24, 24), shift=(0.1, 0.2, 0.3))
    # the bond point along the weakest cosine is the highest saddle; φ_kD are the sorted saddles
    an = analyse(f)
    cp = an.graph_phi
    np.testing.assert_allclose([cp.phi_1d, cp.phi_2d, cp.phi_3d], dims, atol=1e-3)
    grid = an.grid
    np.testing.assert_allclose([grid.phi_1d, grid.phi_2d, grid.phi_3d], dims, atol=0.02)
    assert np.isnan(cp.phi_star) and np.isnan(grid.phi_star)  # one H per cell: no two nuclei to join


def test_grid_percolation_agrees_with_independent_reference():
    rng = np.random.default_rng(3)
    # a smooth random periodic field: few Fourier modes
    shape = (20, 22, 24)
    k = rng.normal(size=(8, 3)).round().astype(int)
    g = np.stack(np.meshgrid(*[np.arange(n) / n for n in shape], indexing="ij"), -1)
    data = sum(np.cos(2 * np.pi * (g @ kk) + rng.random() * 6) for kk in k)
    res = percolate(data)
    for dim, phi in enumerate([res.phi_1d, res.phi_2d, res.phi_3d], start=1):
        if np.isnan(phi):
            continue
        assert periodic_dimension(data >= phi) >= dim
        above = np.min(data[data > phi])
        assert periodic_dimension(data >= above) < dim


def test_molecularity_of_an_h2_crystal_is_the_bond_saddle():
    """Two H at 0.9 Å in a 3 Å box: φ* is the Gaussian sum at their midpoint (by symmetry)."""
    atoms = Atoms("H2", positions=[[1.05, 1.5, 1.5], [1.95, 1.5, 1.5]], cell=[3.0, 3.2, 3.4], pbc=True)
    f = gaussian_field(atoms, (40, 42, 44))
    f.data /= f.data.max()
    scale = 1.0 / gaussian_field(atoms, (40, 42, 44)).data.max()
    saddle = gaussian_value(atoms, np.array([1.5, 1.5, 1.5])) * scale
    an = analyse(f)
    assert an.graph_phi.phi_star == pytest.approx(saddle, abs=2e-4)
    assert an.grid.phi_star == pytest.approx(saddle, abs=0.02)
    counts = morse_counts(an)
    assert counts["max"] - counts["bond"] + counts["ring"] - counts["cage"] == 0
    net = h_network(f, isovalue=0.5 * (saddle + an.graph_phi.phi_1d), analysis=an)
    assert net["fractions"]["H2"] == 1.0
    assert net["bonded_pairs"][0]["distance"] == pytest.approx(0.9, abs=1e-6)
    assert net["bonded_pairs"][0]["elf"] == pytest.approx(saddle, abs=2e-4)


def test_results_do_not_depend_on_the_choice_of_cell_origin():
    atoms = Atoms("H4", positions=[[0.4, 0.5, 0.6], [1.3, 0.5, 0.6], [0.5, 1.9, 2.0], [0.5, 2.8, 2.0]], cell=[3.0, 3.4, 3.2], pbc=True)
    f = gaussian_field(atoms, (30, 34, 32))
    rolled = f.with_data(np.roll(f.data, (7, -5, 3), axis=(0, 1, 2)))
    rolled.atoms.translate(np.array([7 / 30, -5 / 34, 3 / 32]) @ f.cell)
    a, b = networking(f), networking(rolled)
    for key in ("phi_1d", "phi_2d", "phi_3d", "phi_star"):
        assert a[key] == pytest.approx(b[key], abs=1e-9)


# --- acceptance checks on the TcESTIME reference files (skip without ../shared) -------------------

REFERENCE = {
    "QE_1/CaYH20.ELF.cube.gz": (0.60, 0.63, 0.63, 0.79, False),
    "VASP/ELFCAR.gz": (0.55, 0.63, 0.63, 0.72, False),
    "QE_2/CaYH20.ELF.cube.gz": (0.60, 0.63, 0.63, 0.79, True),
}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_tcestime_reference_values(name):
    phi3, phi1, phi2, star, fix = REFERENCE[name]
    f = read(str(external(name)), fix_qe=fix)
    an = analyse(f)
    doc = networking(f, an)
    assert abs(doc["phi_3d"] - phi3) <= 0.02
    assert abs(doc["methods"]["grid"]["phi_3d"] - phi3) <= 0.03
    assert abs(doc["phi_1d"] - phi1) <= 0.02 and abs(doc["phi_2d"] - phi2) <= 0.02
    assert abs(doc["phi_star"] - star) <= 0.02
    counts = morse_counts(an)
    assert counts["max"] - counts["bond"] + counts["ring"] - counts["cage"] == 0
    assert an.graph.unassigned_bonds == 0
