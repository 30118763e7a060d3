"""σ of the topology: φ_1D/2D/3D and φ* with standard deviations, and bond probabilities.

φ_kD and φ* are values of the field at the saddle points (bond points) and attractors of the
attractor graph, swept by ``graph_percolation``. Given the pointwise uncertainty σ(x) of a field
and the correlation length ξ of its error, the graph's values are perturbed by correlated Gaussian
noise — σ at each critical point times a random field with correlation exp(−r² / 2ℓ²), ℓ = ξ / √2
(so that the correlation falls to 1/e at ξ, as the residual analysis measures it), drawn with
random Fourier features — and φ is swept again for each draw. The standard deviation over the draws,
times a factor calibrated on held-out data, is σ_φ. The critical points themselves stay where they
are: the field's error moves their values far more than their positions.

A bond point's probability to exist at an isovalue t is P(ELF_bond + δ ≥ t) = Φ((ELF_bond − t) / σ).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from geoelf.field import Field
from geoelf.interp import Interpolator
from geoelf.topology.network import PHI_KEYS, Analysis, graph_percolation, h_per_node

FOURIER_FEATURES = 128  # random Fourier features per draw: the correlation is exact to about 1/√128


def correlated_noise(points: np.ndarray, xi: float, draws: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance Gaussian noise (draws, P) at Cartesian points (P, 3) Å, correlated as
    exp(−r² / 2ℓ²) with ℓ = ξ / √2 (random Fourier features)."""
    ell = xi / math.sqrt(2.0)
    k = rng.normal(scale=1.0 / ell, size=(draws, FOURIER_FEATURES, 3))
    phase = rng.uniform(0.0, 2 * math.pi, size=(draws, FOURIER_FEATURES))
    waves = np.cos(np.einsum("pi,dmi->dpm", points, k) + phase[:, None, :])
    return math.sqrt(2.0 / FOURIER_FEATURES) * waves.sum(axis=2)


def graph_points(analysis: Analysis) -> tuple[np.ndarray, np.ndarray]:
    """Cartesian positions (Å) of the attractor graph's nodes (K, 3) and bond points (E, 3)."""
    g = analysis.graph
    edges = g.points.cart[g.edge_cp] if len(g.edge_cp) else np.zeros((0, 3))
    return np.asarray(g.node_pos, dtype=float).reshape(-1, 3), np.asarray(edges, dtype=float).reshape(-1, 3)


def sigma_at(sigma: Field, points: np.ndarray) -> np.ndarray:
    """σ (P,) at Cartesian points (P, 3) Å, interpolated trilinearly (σ is smooth and positive)."""
    if not len(points):
        return np.zeros(0)
    frac = points @ np.linalg.inv(sigma.cell)
    return np.maximum(Interpolator(sigma, 1).value(np.mod(frac, 1.0)), 0.0)


def phi_draws(analysis: Analysis, sigma: Field, xi: float, draws: int, seed: int = 0) -> np.ndarray:
    """φ_1D, φ_2D, φ_3D, φ* (draws, 4) of the attractor graph under correlated perturbations of
    its values; NaN where a draw never reaches that φ."""
    g = analysis.graph
    nodes, edges = graph_points(analysis)
    points = np.concatenate([nodes, edges])
    noise = correlated_noise(points, xi, draws, np.random.default_rng(seed)) * sigma_at(sigma, points)
    h = h_per_node(g, analysis.field)
    out = np.empty((draws, len(PHI_KEYS)))
    for d in range(draws):
        moved = dataclasses.replace(
            g, node_value=g.node_value + noise[d, : len(nodes)], edge_value=g.edge_value + noise[d, len(nodes) :]
        )
        phi = graph_percolation(moved, h)
        out[d] = (phi.phi_1d, phi.phi_2d, phi.phi_3d, phi.phi_star)
    return out


def topology_sigma(
    analysis: Analysis, sigma: Field, xi: float, draws: int, phi_scale: float, seed: int = 0
) -> dict[str, float | None]:
    """``{phi_1d_sigma, phi_2d_sigma, phi_3d_sigma, phi_star_sigma}``: the standard deviation of each
    φ over ``draws`` perturbed graphs, times the calibrated ``phi_scale`` (None when φ is not reached)."""
    values = phi_draws(analysis, sigma, xi, draws, seed)
    out: dict[str, float | None] = {}
    for k, key in enumerate(PHI_KEYS):
        column = values[:, k]
        reached = column[np.isfinite(column)]
        out[f"{key}_sigma"] = float(phi_scale * reached.std()) if len(reached) > 1 else None
    return out


def bond_probabilities(analysis: Analysis, sigma: Field, isovalue: float) -> list[dict[str, Any]]:
    """For every bond point joining two H nuclei: its ELF, σ there, and the probability that it
    lies at or above ``isovalue`` (the two H then share a component of {ELF ≥ isovalue})."""
    g = analysis.graph
    _, edges = graph_points(analysis)
    s = sigma_at(sigma, edges)
    numbers = analysis.field.atoms.numbers
    out = []
    for e, (a, b) in enumerate(g.edges):
        atoms_a, atoms_b = g.node_atoms[int(a)], g.node_atoms[int(b)]
        if len(atoms_a) != 1 or len(atoms_b) != 1 or numbers[atoms_a[0]] != 1 or numbers[atoms_b[0]] != 1:
            continue
        v = float(g.edge_value[e])
        z = (v - isovalue) / max(float(s[e]), 1e-12)
        out.append(
            {
                "i": int(atoms_a[0]),
                "j": int(atoms_b[0]),
                "shift": [int(x) for x in g.edge_shift[e]],
                "elf": v,
                "sigma": float(s[e]),
                "probability": 0.5 * (1.0 + math.erf(z / math.sqrt(2.0))),
            }
        )
    return out


# the uncertainty columns of a frame (screen, predict --network --uncertainty), in order
SIGMA_KEYS = ("phi_1d_sigma", "phi_2d_sigma", "phi_3d_sigma", "phi_star_sigma", "elf_sigma_mean")


def frame_sigma(analysis: Analysis, sigma: Field, xi: float, draws: int, phi_scale: float) -> dict[str, float | None]:
    """The uncertainty columns of one frame (SIGMA_KEYS): σ of each φ and the mean σ(x) of its ELF."""
    out = topology_sigma(analysis, sigma, xi, draws, phi_scale)
    out["elf_sigma_mean"] = float(sigma.data.mean())
    return {k: out[k] for k in SIGMA_KEYS}
