"""How well can a reference ELF grid be rebuilt from every second point of each axis?

    python scripts/interpolation_bound.py [DATASET] [--split val] [--every 1]

Takes every `--every`-th sample of the split with even grid sizes, keeps the points (0::2)³, brings
them back to the full grid by trilinear, Fourier (zero padding) and periodic cubic / quintic
B-spline interpolation, and prints R², MAE and max error pooled over all points. This is the error
a model evaluated on the half-resolution grid would carry even if it were exact (session 19).
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy import ndimage

from geoelf.data.dataset import samples_of_split
from geoelf.data.sample import read_sample


def fourier_upsample(coarse: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Zero-pad the spectrum of a periodic grid `coarse` to the finer `shape` (Nyquist bin kept on the negative side)."""
    spectrum = np.fft.fftn(coarse)
    padded = np.zeros(shape, complex)
    dst = [np.r_[0:(n + 1) // 2, s - n // 2:s] for n, s in zip(coarse.shape, shape)]
    src = [np.r_[0:(n + 1) // 2, n - n // 2:n] for n in coarse.shape]
    padded[np.ix_(*dst)] = spectrum[np.ix_(*src)]
    return np.real(np.fft.ifftn(padded)) * (np.prod(shape) / np.prod(coarse.shape))


def spline_upsample(coarse: np.ndarray, shape: tuple[int, ...], order: int) -> np.ndarray:
    """Periodic B-spline interpolation of `coarse` at the points of the finer grid `shape`."""
    axes = [np.arange(s) * (n / s) for n, s in zip(coarse.shape, shape)]
    coords = np.meshgrid(*axes, indexing="ij")
    return ndimage.map_coordinates(coarse, coords, order=order, mode="grid-wrap", prefilter=order > 1)


METHODS = {
    "trilinear": lambda c, s: spline_upsample(c, s, 1),
    "Fourier": fourier_upsample,
    "cubic B-spline": lambda c, s: spline_upsample(c, s, 3),
    "quintic B-spline": lambda c, s: spline_upsample(c, s, 5),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", nargs="?", default="data/v1")
    parser.add_argument("--split", default="val")
    parser.add_argument("--every", type=int, default=1)
    args = parser.parse_args()
    refs: list[np.ndarray] = []
    rebuilt: dict[str, list[np.ndarray]] = {name: [] for name in METHODS}
    for path in samples_of_split(args.dataset, args.split)[:: args.every]:
        field, _ = read_sample(path)
        values = field.data
        if any(n % 2 for n in values.shape):
            continue
        coarse = values[::2, ::2, ::2]
        refs.append(values.ravel())
        for name, upsample in METHODS.items():
            rebuilt[name].append(upsample(coarse, values.shape).ravel())
    ref = np.concatenate(refs)
    print(f"{len(refs)} samples, {ref.size} grid points")
    for name, parts in rebuilt.items():
        err = np.concatenate(parts) - ref
        r2 = 1 - np.sum(err**2) / np.sum((ref - ref.mean()) ** 2)
        print(f"{name:18s} R² {r2:.5f}  MAE {np.abs(err).mean():.4f}  max {np.abs(err).max():.3f}")


if __name__ == "__main__":
    main()
