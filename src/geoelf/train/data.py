"""Training data in memory: structures with their ELF grids, and random probe subsets of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from ase import Atoms

if TYPE_CHECKING:  # the one-shot's kernels load only for a model that reads its channels
    from geoelf.electronic.oneshot import OneShotSettings


@dataclass
class Item:
    """One structure with its ELF on the periodic grid (float32, (N1, N2, N3)) and, for an electronic
    model, the spline coefficients of its one-shot channels (C, n₀, n₁, n₂) (``electronic_channels``)."""

    atoms: Atoms
    elf: np.ndarray
    meta: dict
    channels: np.ndarray | None = None
    _pairs: dict = field(default_factory=dict, repr=False, compare=False)  # cutoff -> atom pairs

    def atom_pairs(self, cutoff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The atom–atom pairs within ``cutoff`` Å (``neighbour_pairs``), computed once: training
        draws every snapshot thousands of times, and its atoms never move."""
        if cutoff not in self._pairs:
            from geoelf.neighbours import neighbour_pairs

            pos = self.atoms.positions
            self._pairs[cutoff] = neighbour_pairs(pos, pos, self.atoms.cell.array, cutoff, exclude_self=True)
        return self._pairs[cutoff]

    def probes(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """``n`` random grid points: Cartesian positions (n, 3) Å, their ELF (n,) and their electronic
        channels (n, C) (None without them)."""
        flat = rng.integers(0, self.elf.size, n)
        idx = np.stack(np.unravel_index(flat, self.elf.shape), axis=1)
        frac = idx / np.array(self.elf.shape)
        channels = None
        if self.channels is not None:
            from geoelf.electronic.features import channels_at

            channels = channels_at(self.channels, frac)
        return frac @ self.atoms.cell.array, self.elf.reshape(-1)[flat], channels


def load_split(root: str | list[str], split: str, electronic: OneShotSettings | None = None) -> list[Item]:
    """All samples of a split of a dataset, or of the splits of that name of several datasets in their
    order (each needs ``geoelf dataset split`` first); with ``electronic`` settings, with their one-shot
    channels (computed once and cached beside each dataset, ``cached_channels``). A dataset whose split is
    empty is an error: a folder listed for training that gives nothing is a mistake in the config."""
    from geoelf.data.dataset import samples_of_datasets
    from geoelf.data.sample import read_sample

    items = []
    for folder, paths in samples_of_datasets(root, split):
        for path in paths:
            field, meta = read_sample(path)
            channels = None if electronic is None else cached_channels(folder, path, field.atoms, electronic)
            items.append(Item(field.atoms, field.data.astype(np.float32), meta, channels))
    return items


def cached_channels(root: str | Path, sample: Path, atoms: Atoms, settings: OneShotSettings) -> np.ndarray:
    """The one-shot channels' spline coefficients of a dataset sample (float32), from
    ``<root>/.cache/electronic-<settings>/`` or computed (about 0.5 s a 64-atom frame) and stored there.
    The folder is named by a hash of the one-shot settings, so changed settings never read old fields."""
    import hashlib
    import os

    from geoelf.electronic.features import CHANNELS, electronic_channels

    key = hashlib.sha256(repr((settings, CHANNELS)).encode()).hexdigest()[:12]
    path = Path(root) / ".cache" / f"electronic-{key}" / (sample.stem + ".npy")
    if path.exists():
        return np.load(path)
    coef = electronic_channels(atoms, settings).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.partial.npy")
    np.save(partial, coef)
    partial.replace(path)  # whole files only, even when two runs fill the cache at once
    return coef


def synthetic_items(n: int, seed: int, natoms: int = 16) -> list[Item]:
    """Random dense-hydrogen-like structures labelled with the promolecular ELF (tests, demos)."""
    from geoelf.dft.md import random_molecular_start
    from geoelf.model.atomic_density import promolecular_elf

    rng = np.random.default_rng(seed)
    items = []
    for k in range(n):
        rs = float(rng.uniform(1.3, 1.6))
        atoms = random_molecular_start(natoms, rs, seed * 1000 + k)
        atoms.positions += rng.normal(scale=0.1, size=atoms.positions.shape)
        shape = (16, 16, 16)
        items.append(
            Item(
                atoms,
                promolecular_elf(atoms, shape).astype(np.float32),
                {"rs": rs, "phase": "fluid", "trajectory": f"synthetic{k}", "pressure_gpa": None},
            )
        )
    return items
