"""Residual analysis on synthetic fields with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ase import Atoms
from scipy.optimize import brentq

from conftest import grid_frac
from geoelf.analysis.residuals import autocorrelation, by_pressure, correlation_length, residual_report, spectrum
from geoelf.field import Field


def field_on(cell, shape, data=None, atoms=None):
    atoms = atoms or Atoms("H2", positions=[[0, 0, 0], [0.74, 0, 0]], cell=cell, pbc=True)
    return Field(np.zeros(shape) if data is None else data, atoms)


@pytest.mark.parametrize("cell", [np.eye(3) * 6.0, np.array([[6.0, 0, 0], [1.5, 5.5, 0], [0.8, -0.6, 6.2]])])
def test_plane_wave_power_sits_at_its_k_and_xi_is_the_sinc_crossing(cell):
    shape = (48, 48, 48)
    hkl = np.array([2, -1, 3])
    g = grid_frac(shape)
    wave = 0.05 * np.cos(2 * np.pi * (g @ hkl))
    f = field_on(cell, shape)
    k = 2 * math.pi * np.linalg.norm(hkl @ np.linalg.inv(cell).T)
    spec = spectrum(f, wave)
    kk, pp = np.array(spec["k"]), np.array(spec["power"])
    assert pp.sum() == pytest.approx(np.var(wave), rel=1e-10)  # Parseval
    dk = 2 * math.pi * np.min(np.linalg.norm(np.linalg.inv(cell).T, axis=1))
    assert abs(kk[np.argmax(pp)] - k) <= dk / 2 + 1e-9 and pp.max() / pp.sum() > 0.999
    r, c = autocorrelation(f, wave)
    xi, _, _ = correlation_length(r, c)
    x = brentq(lambda x: math.sin(x) / x - 1 / math.e, 1.0, 3.0)  # shell average of cos is sinc
    assert xi == pytest.approx(x / k, rel=0.06)


def test_white_noise_correlation_length_below_one_grid_spacing():
    shape = (40, 40, 40)
    f = field_on(np.eye(3) * 5.0, shape)
    noise = np.random.default_rng(0).normal(size=shape)
    r, c = autocorrelation(f, noise)
    xi, _, _ = correlation_length(r, c)
    assert c[0] == pytest.approx(1.0) and abs(c[1]) < 0.05
    assert xi < f.spacing.min()


def test_exponential_correlation_is_recovered_by_the_fit():
    """Noise smoothed with an exponential-correlation filter: ξ_fit near the filter's length."""
    shape = (64, 64, 64)
    cell = np.eye(3) * 12.0
    f = field_on(cell, shape)
    from geoelf.analysis.residuals import k_vectors

    k = np.linalg.norm(k_vectors(f), axis=-1)
    ell = 0.8
    # the power spectrum of C(r) = exp(−r/ℓ) in 3D is ∝ 1/(1 + k²ℓ²)²
    amp = np.fft.fftn(np.random.default_rng(1).normal(size=shape)) / (1 + (k * ell) ** 2)
    data = np.fft.ifftn(amp).real
    r, c = autocorrelation(f, data)
    xi, xi_fit, err = correlation_length(r, c)
    assert xi_fit == pytest.approx(ell, rel=0.15) and xi == pytest.approx(ell, rel=0.15) and err < 0.1


def test_report_long_wave_fraction_and_r2_without_long_waves():
    shape = (32, 32, 32)
    cell = np.eye(3) * 4.0
    atoms = Atoms("H2", positions=[[0, 0, 0], [2.0, 0, 0]], cell=cell, pbc=True)  # d_HH = 2 Å → k_cut = π Å⁻¹
    g = grid_frac(shape)
    ref = Field(0.5 + 0.3 * np.cos(2 * np.pi * 3 * g[..., 0]), atoms)
    long = 0.02 * np.cos(2 * np.pi * g[..., 1])  # |k| = π/2 < k_cut
    short = 0.01 * np.cos(2 * np.pi * 5 * g[..., 2])  # |k| = 5π/2 > k_cut
    rep = residual_report(ref, ref.with_data(ref.data + long + short))
    assert rep["d_hh"] == pytest.approx(2.0)
    assert rep["longwave_fraction"] == pytest.approx(0.02**2 / (0.02**2 + 0.01**2), rel=1e-9)
    sst = np.sum((ref.data - ref.data.mean()) ** 2)
    assert rep["r2_without_longwave"] == pytest.approx(1 - np.sum(short**2) / sst, rel=1e-9)
    # the reference is a wave of |k| = 3π/2 > k_cut: none of its variance is long-wave, and its own
    # ξ is the sinc crossing at that k
    assert rep["reference_longwave_fraction"] == pytest.approx(0.0, abs=1e-12)
    x = brentq(lambda x: math.sin(x) / x - 1 / math.e, 1.0, 3.0)
    assert rep["xi_reference"] == pytest.approx(x / (1.5 * math.pi), rel=0.06)
    rows = by_pressure([{**rep, "pressure_gpa": 150.0}, {**rep, "pressure_gpa": 160.0}])
    assert rows[0]["files"] == 2 and rows[0]["rms"]["ci95"][0] <= rows[0]["rms"]["mean"] <= rows[0]["rms"]["ci95"][1]


def test_residuals_cli_json_contract(tmp_path, capsys):
    import json

    from geoelf.cli.main import main
    from geoelf.io import write

    shape = (24, 24, 24)
    cell = np.eye(3) * 4.0
    atoms = Atoms("H2", positions=[[0, 0, 0], [2.0, 0, 0]], cell=cell, pbc=True)
    g = grid_frac(shape)
    ref = Field(0.5 + 0.3 * np.cos(2 * np.pi * 2 * g[..., 0]), atoms)
    write(ref, str(tmp_path / "ref.cube"))
    write(ref.with_data(ref.data + 0.01 * np.cos(2 * np.pi * g[..., 1])), str(tmp_path / "pred.cube"))
    assert main(["residuals", str(tmp_path / "ref.cube"), "--prediction", str(tmp_path / "pred.cube"), "--json",
                 "--plots", str(tmp_path / "plots")]) == 0
    doc = json.loads(capsys.readouterr().out)
    f = doc["files"][0]
    for key in ("path", "rms", "xi", "xi_fit", "d_hh", "longwave_fraction", "spectrum"):
        assert key in f
    assert set(f["spectrum"]) == {"k", "power"} and "by_pressure" in doc
    assert f["rms"] == pytest.approx(0.01 / math.sqrt(2), rel=1e-4) and f["longwave_fraction"] == pytest.approx(1.0)
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["acf.png", "delta_slice.png", "spectrum.png"]
