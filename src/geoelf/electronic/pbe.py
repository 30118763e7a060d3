"""The PBE exchange–correlation functional for a closed-shell density (Perdew, Burke, Ernzerhof,
PRL 77, 3865 (1996); PW92 local correlation with libxc's "PW_MOD" constants), and its derivatives
by automatic differentiation; checked against libxc in the tests."""

from __future__ import annotations

import math

import numpy as np

KAPPA, MU = 0.804, 0.2195149727645171  # exchange enhancement
BETA, GAMMA = 0.06672455060314922, (1 - math.log(2)) / math.pi**2  # gradient correction to correlation
PW92 = (0.0310907, 0.21370, 7.5957, 3.5876, 1.6382, 0.49294)  # A, α1, β1, β2, β3, β4 (unpolarised)
DENSITY_FLOOR = 1e-12  # bohr⁻³: below this the functional is taken as zero


def _energy_density(rho, sigma):
    """e_xc (hartree bohr⁻³) of density ``rho`` and σ = |∇ρ|² (torch tensors, atomic units)."""
    import torch

    kf = (3 * math.pi**2 * rho) ** (1 / 3)
    ex_lda = -0.75 * (3 / math.pi) ** (1 / 3) * rho ** (4 / 3)
    s2 = sigma / (2 * kf * rho) ** 2
    ex = ex_lda * (1 + KAPPA - KAPPA / (1 + MU * s2 / KAPPA))
    a, a1, b1, b2, b3, b4 = PW92
    rs = (3 / (4 * math.pi * rho)) ** (1 / 3)
    ec_lda = -2 * a * (1 + a1 * rs) * torch.log1p(1 / (2 * a * (b1 * rs**0.5 + b2 * rs + b3 * rs**1.5 + b4 * rs**2)))
    ks = torch.sqrt(4 * kf / math.pi)
    t2 = sigma / (2 * ks * rho) ** 2
    big_a = BETA / GAMMA / torch.expm1(-ec_lda / GAMMA)
    at2 = big_a * t2
    h = GAMMA * torch.log1p(BETA / GAMMA * t2 * (1 + at2) / (1 + at2 + at2 * at2))
    return ex + rho * (ec_lda + h)


def pbe(rho: np.ndarray, sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PBE for a closed-shell density: the energy density e_xc (hartree bohr⁻³), v_ρ = ∂e_xc/∂ρ
    (hartree) and v_σ = ∂e_xc/∂σ (hartree bohr²), from ``rho`` (bohr⁻³) and σ = |∇ρ|² (bohr⁻⁸),
    arrays of one shape. The exchange–correlation potential is v_ρ − 2∇·(v_σ∇ρ)."""
    import torch

    rho_t = torch.as_tensor(np.asarray(rho, dtype=np.float64))
    sigma_t = torch.as_tensor(np.asarray(sigma, dtype=np.float64))
    live = rho_t > DENSITY_FLOOR
    r = rho_t[live].clone().requires_grad_(True)
    s = sigma_t[live].clamp(min=0).clone().requires_grad_(True)
    e = _energy_density(r, s)
    vr, vs = torch.autograd.grad(e.sum(), (r, s))
    out = [torch.zeros_like(rho_t) for _ in range(3)]
    for o, x in zip(out, (e.detach(), vr, vs), strict=True):
        o[live] = x
    return out[0].numpy(), out[1].numpy(), out[2].numpy()
