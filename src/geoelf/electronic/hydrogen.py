"""Hydrogen in the one-shot calculation: the GTH-PBE pseudopotential, the gth-szv basis function and
the neutral-atom potential, in atomic units (bohr, hartree).

Both are CP2K's published sets (GTH_POTENTIALS "GTH-PBE-q1", GTH_BASIS_SETS "SZV-GTH"), the ones
PySCF loads as ``gth-pbe`` and ``gth-szv``: the tests check the numbers against PySCF's copies.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erf

# gth-szv: one contracted s function, φ(r) = Σ_q d_q exp(−α_q r²), normalised below
BASIS_EXPONENTS = np.array([8.3744350009, 1.805868146, 0.4852528328, 0.1658236932])  # bohr⁻²
BASIS_COEFFICIENTS = np.array([-0.0283380461, -0.1333810052, -0.3995676063, -0.5531027541])  # of normalised primitives
# GTH-PBE-q1: one valence electron, a local part only (no projectors for H)
ION_CHARGE = 1.0
R_LOC = 0.2  # bohr
C_LOC = (-4.17890044, 0.72446331)  # C1, C2 (hartree)


def contraction() -> np.ndarray:
    """(4,) the weights d_q of the raw Gaussians exp(−α_q r²) in the normalised basis function φ."""
    d = BASIS_COEFFICIENTS * (2 * BASIS_EXPONENTS / math.pi) ** 0.75
    g = BASIS_EXPONENTS[:, None] + BASIS_EXPONENTS[None, :]
    return d / math.sqrt(float(np.sum(d[:, None] * d[None, :] * (math.pi / g) ** 1.5)))


def basis_value(r2: np.ndarray) -> np.ndarray:
    """φ at squared distances ``r2`` (bohr²): the basis function, normalised to ∫φ² = 1."""
    return np.exp(-np.multiply.outer(r2, BASIS_EXPONENTS)) @ contraction()


def _erf_over_r(a: float | np.ndarray, r: np.ndarray) -> np.ndarray:
    """erf(a r)/r, with its limit 2a/√π at r = 0."""
    small = r < 1e-8
    safe = np.where(small, 1.0, r)
    return np.where(small, 2 * a / math.sqrt(math.pi), erf(a * safe) / safe)


def neutral_atom_potential(r: np.ndarray) -> np.ndarray:
    """V_na(r) = V_loc(r) + V_H[φ²](r) (hartree) at distances ``r`` (bohr): the pseudo-ion's local
    potential screened by the Hartree potential of its own electron in φ. The atom is neutral, so
    V_na vanishes beyond a few bohr (like erfc(√(2α_min) r)) and can be summed over atoms in real space."""
    r = np.asarray(r, dtype=float)
    x2 = (r / R_LOC) ** 2
    v = -ION_CHARGE * _erf_over_r(1 / (math.sqrt(2) * R_LOC), r) + np.exp(-0.5 * x2) * (C_LOC[0] + C_LOC[1] * x2)
    d = contraction()
    for p in range(len(d)):  # φ² = Σ_pq d_p d_q exp(−(α_p + α_q) r²), each a Gaussian charge of its own
        for q in range(len(d)):
            g = BASIS_EXPONENTS[p] + BASIS_EXPONENTS[q]
            v = v + d[p] * d[q] * (math.pi / g) ** 1.5 * _erf_over_r(math.sqrt(g), r)
    return v


def gaussian_pair_integrals(r2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Overlap ⟨φ_A|φ_B⟩ and kinetic ⟨φ_A|−½∇²|φ_B⟩ (hartree) of two basis functions |A − B|² = ``r2``
    (bohr²) apart: Σ_pq d_p d_q (π/g)^{3/2} e^{−μR²} times 1 and μ(3 − 2μR²), g = α_p + α_q, μ = α_pα_q/g."""
    r2 = np.asarray(r2, dtype=float)
    d = contraction()
    g = BASIS_EXPONENTS[:, None] + BASIS_EXPONENTS[None, :]
    mu = (BASIS_EXPONENTS[:, None] * BASIS_EXPONENTS[None, :] / g).ravel()
    weight = (d[:, None] * d[None, :] * (math.pi / g) ** 1.5).ravel()
    e = np.exp(-np.multiply.outer(r2, mu))  # (..., 16): one exponential per primitive pair
    return e @ weight, e @ (3 * weight * mu) - 2 * r2 * (e @ (weight * mu * mu))
