"""The one-shot fields as network inputs: 15 scalar channels per point, smooth interpolation anywhere.

For each of the one-shot ELF, log ρ and asinh χ (asinh: χ spans decades and changes sign): the field
itself, its periodic Gaussian blurs of 0.2 and 0.4 Å (what the electrons around a point do, which
decides the ELF 0.5–0.8 Å from the atoms), and the gradient norm (Å⁻¹) and Laplacian (Å⁻²) of the
0.2 Å blur. All are rotation invariant scalars. They live on the one-shot's field mesh as periodic
cubic B-spline coefficients, evaluated at any point with one set of weights for all channels, and on
the planes of a prediction grid axis by axis (``ChannelGrid``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from geoelf.electronic.oneshot import ElectronicFields, OneShotSettings, one_shot, wave_vectors
from geoelf.interp import _bweights

BASES = ("elf", "log_rho", "asinh_chi")
BLURS = (0.2, 0.4)  # Å
CHANNELS = tuple(f"{b}{suffix}" for b in BASES for suffix in ("", "_blur0.2", "_blur0.4", "_grad0.2", "_laplacian0.2"))


def settings_for(plane_spacing: float | None) -> OneShotSettings:
    """The one-shot settings of a network whose ``electronic_plane_spacing`` is ``plane_spacing`` (Å;
    None: the defaults)."""
    return OneShotSettings() if plane_spacing is None else OneShotSettings(min_plane_spacing=plane_spacing)


def electronic_channels(atoms, settings: OneShotSettings | None = None) -> np.ndarray:
    """The one-shot channels of a structure as spline coefficients (15, n₀, n₁, n₂), for ``channels_at``."""
    return channel_coefficients(one_shot(atoms, settings))


def channel_coefficients(fields: ElectronicFields) -> np.ndarray:
    """The periodic cubic B-spline coefficients (15, n₀, n₁, n₂) of the channels on the field mesh, in
    the order of CHANNELS. All in Fourier space: blurs, gradient and Laplacian are products there, and
    so is the interpolation condition (the coefficients are the channel divided by the B-spline's
    transform, Π_axes (2 + cos 2πm/n)/3), so one transform per channel gives its coefficients."""
    shape = fields.shape
    wave = wave_vectors(fields.cell, shape)[:, :, : shape[2] // 2 + 1]  # Å⁻¹, the half spectrum of a real field
    g2 = np.sum(wave**2, axis=-1)
    spline = np.ones(g2.shape)
    for axis, n in enumerate(shape):
        m = np.arange(g2.shape[axis])
        factor = (2.0 + np.cos(2 * math.pi * m / n)) / 3.0
        spline = spline * factor.reshape([-1 if a == axis else 1 for a in range(3)])
    bases = (fields.elf, np.log(np.maximum(fields.rho, 1e-12)), np.arcsinh(fields.chi))
    out = []
    for f in bases:
        spectrum = np.fft.rfftn(f)
        blurred = [spectrum * np.exp(-0.5 * g2 * w * w) for w in BLURS]
        gradient = [np.fft.irfftn(1j * wave[..., x] * blurred[0], shape, axes=(0, 1, 2)) for x in range(3)]
        norm = np.fft.rfftn(np.sqrt(sum(g * g for g in gradient)))
        for channel in (spectrum, *blurred, norm, -g2 * blurred[0]):
            out.append(np.fft.irfftn(channel / spline, shape, axes=(0, 1, 2)))
    return np.stack(out)


@numba.njit(cache=True, parallel=True, fastmath=True)
def _spline_channels(coef, u, out):
    """out (P, C) = the splines of coefficients ``coef`` (n₀, n₁, n₂, C) (channels last: each of the 64
    taps reads C values together) at mesh coordinates u (P, 3)."""
    n0, n1, n2, channels = coef.shape
    for p in numba.prange(u.shape[0]):
        w0, w1, w2 = np.empty(4), np.empty(4), np.empty(4)
        scratch = np.empty(4)
        total = np.zeros(channels)
        i0, i1, i2 = int(math.floor(u[p, 0])), int(math.floor(u[p, 1])), int(math.floor(u[p, 2]))
        _bweights(u[p, 0] - i0, w0, scratch, scratch)
        _bweights(u[p, 1] - i1, w1, scratch, scratch)
        _bweights(u[p, 2] - i2, w2, scratch, scratch)
        for a in range(4):
            ia = (i0 - 1 + a) % n0
            for b in range(4):
                ib = (i1 - 1 + b) % n1
                wab = w0[a] * w1[b]
                for d in range(4):
                    tap = coef[ia, ib, (i2 - 1 + d) % n2]
                    w = wab * w2[d]
                    for c in range(channels):
                        total[c] += w * tap[c]
        out[p] = total


def channels_at(coef: np.ndarray, frac: np.ndarray) -> np.ndarray:
    """The channels (P, 15) float32 at fractional points (P, 3), from ``electronic_channels``' coefficients."""
    u = np.ascontiguousarray((np.asarray(frac, dtype=np.float64) % 1.0) * np.array(coef.shape[1:]))
    out = np.empty((len(u), coef.shape[0]))
    _spline_channels(np.ascontiguousarray(np.moveaxis(coef, 0, -1)), u, out)  # a copy of 15 × mesh values
    return out.astype(np.float32)


@numba.njit(cache=True)
def _axis_taps(points: int, mesh: int) -> tuple[np.ndarray, np.ndarray]:
    """The four mesh indices (points, 4) and B-spline weights (points, 4) of each of ``points`` evenly
    spaced grid points along an axis of ``mesh`` coefficients (periodic)."""
    index = np.empty((points, 4), np.int64)
    weight = np.empty((points, 4))
    scratch = np.empty(4)
    for i in range(points):
        u = i * mesh / points
        base = int(math.floor(u))
        _bweights(u - base, weight[i], scratch, scratch)
        for t in range(4):
            index[i, t] = (base - 1 + t) % mesh
    return index, weight


@numba.njit(cache=True, fastmath=True)
def _spline_planes(coef, index0, weight0, index1, weight1, index2, weight2, out):
    """out (p₀, p₁, p₂, C) float32 = the splines of coefficients ``coef`` (n₀, n₁, n₂, C) on the grid of
    the axes' taps, one axis at a time: a plane of coefficients along axis 0, then rows along axis 1,
    then points along axis 2, 4 taps each (12 multiply-adds a point and channel instead of 64)."""
    _, n1, n2, channels = coef.shape
    p1, p2 = index1.shape[0], index2.shape[0]
    plane = np.empty((n1, n2, channels))
    rows = np.empty((p1, n2, channels))
    total = np.empty(channels)
    for i in range(index0.shape[0]):
        plane[:] = 0.0
        for t in range(4):
            source, w = coef[index0[i, t]], weight0[i, t]
            for j in range(n1):
                for k in range(n2):
                    for c in range(channels):
                        plane[j, k, c] += w * source[j, k, c]
        rows[:] = 0.0
        for j in range(p1):
            for t in range(4):
                source, w = plane[index1[j, t]], weight1[j, t]
                for k in range(n2):
                    for c in range(channels):
                        rows[j, k, c] += w * source[k, c]
        for j in range(p1):
            for k in range(p2):
                total[:] = 0.0
                for t in range(4):
                    source, w = rows[j, index2[k, t]], weight2[k, t]
                    for c in range(channels):
                        total[c] += w * source[c]
                for c in range(channels):
                    out[i, j, k, c] = total[c]


@dataclass(frozen=True)
class ChannelGrid:
    """The channels of one structure on the points of one prediction grid (``channel_grid``): their
    spline coefficients channels last and each axis's taps, made once per frame and read by every task."""

    coef: np.ndarray  # (n₀, n₁, n₂, C)
    taps: tuple[tuple[np.ndarray, np.ndarray], ...]  # per grid axis: indices and weights (points, 4)

    def planes(self, i0: int, i1: int) -> np.ndarray:
        """The channels (P, C) float32 at the points of grid planes i0 … i1 - 1 (first axis), in the
        grid's order (the last axis fastest): equal to ``channels_at`` at those points."""
        (index0, weight0), (index1, weight1), (index2, weight2) = self.taps
        out = np.empty((i1 - i0, len(index1), len(index2), self.coef.shape[-1]), dtype=np.float32)
        _spline_planes(self.coef, index0[i0:i1], weight0[i0:i1], index1, weight1, index2, weight2, out)
        return out.reshape(-1, self.coef.shape[-1])


def channel_grid(coef: np.ndarray, shape: tuple[int, int, int]) -> ChannelGrid:
    """``ChannelGrid`` of spline coefficients (C, n₀, n₁, n₂) (``electronic_channels``) on a grid ``shape``
    spanning the same cell."""
    taps = tuple(_axis_taps(points, mesh) for points, mesh in zip(shape, coef.shape[1:]))
    return ChannelGrid(np.ascontiguousarray(np.moveaxis(coef, 0, -1)), taps)
