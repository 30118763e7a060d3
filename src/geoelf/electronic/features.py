"""The one-shot fields as network inputs: 15 scalar channels per point, smooth interpolation anywhere.

For each of the one-shot ELF, log ρ and asinh χ (asinh: χ spans decades and changes sign): the field
itself, its periodic Gaussian blurs of 0.2 and 0.4 Å (what the electrons around a point do, which
decides the ELF 0.5–0.8 Å from the atoms), and the gradient norm (Å⁻¹) and Laplacian (Å⁻²) of the
0.2 Å blur. All are rotation invariant scalars. They live on the one-shot's field mesh as periodic
cubic B-spline coefficients, evaluated at any point with one set of weights for all channels.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from geoelf.electronic.oneshot import ElectronicFields, OneShotSettings, one_shot, wave_vectors
from geoelf.interp import _bweights, spline_coefficients

BASES = ("elf", "log_rho", "asinh_chi")
BLURS = (0.2, 0.4)  # Å
CHANNELS = tuple(f"{b}{suffix}" for b in BASES for suffix in ("", "_blur0.2", "_blur0.4", "_grad0.2", "_laplacian0.2"))


def channel_grids(fields: ElectronicFields) -> np.ndarray:
    """The channels (15, n₀, n₁, n₂) on the field mesh, in the order of CHANNELS."""
    bases = (fields.elf, np.log(np.maximum(fields.rho, 1e-12)), np.arcsinh(fields.chi))
    wave = wave_vectors(fields.cell, fields.shape)  # Å⁻¹ (n₀, n₁, n₂, 3)
    g2 = np.sum(wave**2, axis=-1)
    out = []
    for f in bases:
        spectrum = np.fft.fftn(f)
        blurred = [np.fft.ifftn(spectrum * np.exp(-0.5 * g2 * w * w)).real for w in BLURS]
        near = np.fft.fftn(blurred[0])
        gradient = [np.fft.ifftn(1j * wave[..., x] * near).real for x in range(3)]
        laplacian = np.fft.ifftn(-g2 * near).real
        out += [f, *blurred, np.sqrt(sum(g * g for g in gradient)), laplacian]
    return np.stack(out)


def electronic_channels(atoms, settings: OneShotSettings | None = None) -> np.ndarray:
    """The one-shot channels of a structure as spline coefficients (15, n₀, n₁, n₂), for ``channels_at``."""
    grids = channel_grids(one_shot(atoms, settings))
    return np.stack([spline_coefficients(g) for g in grids])


@numba.njit(cache=True, parallel=True)
def _spline_channels(coef, u, out):
    n0, n1, n2 = coef.shape[1], coef.shape[2], coef.shape[3]
    for p in numba.prange(u.shape[0]):
        w0, w1, w2 = np.empty(4), np.empty(4), np.empty(4)
        scratch = np.empty(4)
        i0, i1, i2 = int(math.floor(u[p, 0])), int(math.floor(u[p, 1])), int(math.floor(u[p, 2]))
        _bweights(u[p, 0] - i0, w0, scratch, scratch)
        _bweights(u[p, 1] - i1, w1, scratch, scratch)
        _bweights(u[p, 2] - i2, w2, scratch, scratch)
        for c in range(coef.shape[0]):
            out[p, c] = 0.0
        for a in range(4):
            ia = (i0 - 1 + a) % n0
            for b in range(4):
                ib = (i1 - 1 + b) % n1
                wab = w0[a] * w1[b]
                for d in range(4):
                    ic = (i2 - 1 + d) % n2
                    w = wab * w2[d]
                    for c in range(coef.shape[0]):
                        out[p, c] += w * coef[c, ia, ib, ic]


def channels_at(coef: np.ndarray, frac: np.ndarray) -> np.ndarray:
    """The channels (P, 15) float32 at fractional points (P, 3), from ``electronic_channels``' coefficients."""
    u = np.ascontiguousarray((np.asarray(frac, dtype=np.float64) % 1.0) * np.array(coef.shape[1:]))
    out = np.empty((len(u), coef.shape[0]))
    _spline_channels(np.ascontiguousarray(coef), u, out)  # float32 coefficients as cached: no per-call copy
    return out.astype(np.float32)
