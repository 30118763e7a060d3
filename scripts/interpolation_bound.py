"""How well can a reference ELF grid be rebuilt from every second point of each axis?

    python scripts/interpolation_bound.py [DATASET] [--split val] [--every 1]

Takes every `--every`-th sample of the split with even grid sizes, keeps the points (0::2)³, brings
them back to the full grid by geoelf's own trilinear and cubic B-spline interpolants, by Fourier
zero padding and by a periodic quintic B-spline, and prints R², MAE and max error pooled over all points. This is the error
a model evaluated on the half-resolution grid would carry even if it were exact.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy import ndimage

from geoelf.analysis.compare import metrics
from geoelf.data.dataset import samples_of_split
from geoelf.data.sample import read_sample
from geoelf.field import Field


def fourier_upsample(coarse: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Zero-pad the spectrum of a periodic grid `coarse` to the finer `shape` (Nyquist bin kept on the negative side)."""
    spectrum = np.fft.fftn(coarse)
    padded = np.zeros(shape, complex)
    dst = [np.r_[0:(n + 1) // 2, s - n // 2:s] for n, s in zip(coarse.shape, shape)]
    src = [np.r_[0:(n + 1) // 2, n - n // 2:n] for n in coarse.shape]
    padded[np.ix_(*dst)] = spectrum[np.ix_(*src)]
    return np.real(np.fft.ifftn(padded)) * (np.prod(shape) / np.prod(coarse.shape))


def field_upsample(coarse: Field, fine: Field, order: int) -> np.ndarray:
    """geoelf's own periodic interpolant of `coarse` (1 trilinear, 3 cubic B-spline) on `fine`'s grid."""
    return coarse.interpolate(fine.grid_frac().reshape(-1, 3), order).reshape(fine.shape)


def quintic_upsample(coarse: Field, fine: Field) -> np.ndarray:
    """Periodic quintic B-spline (scipy: geoelf's interpolant stops at cubic) on `fine`'s grid."""
    coords = np.moveaxis(fine.grid_frac() * np.array(coarse.shape), -1, 0)
    return ndimage.map_coordinates(coarse.data, coords, order=5, mode="grid-wrap")


METHODS = {
    "trilinear": lambda c, f: field_upsample(c, f, 1),
    "Fourier": lambda c, f: fourier_upsample(c.data, f.shape),
    "cubic B-spline": lambda c, f: field_upsample(c, f, 3),
    "quintic B-spline": quintic_upsample,
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
        fine, _ = read_sample(path)
        if any(n % 2 for n in fine.shape):
            continue
        coarse = fine.with_data(fine.data[::2, ::2, ::2])
        refs.append(fine.data.ravel())
        for name, upsample in METHODS.items():
            rebuilt[name].append(upsample(coarse, fine).ravel())
    ref = np.concatenate(refs)
    print(f"{len(refs)} samples, {ref.size} grid points")
    for name, parts in rebuilt.items():
        m = metrics(ref, np.concatenate(parts))
        print(f"{name:18s} R² {m['r2']:.5f}  MAE {m['mae']:.4f}  max {m['max_abs']:.3f}")


if __name__ == "__main__":
    main()
