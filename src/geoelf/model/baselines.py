"""Baselines that ``geoelf evaluate`` runs like any model (``--model promolecular``)."""

from __future__ import annotations

import time

from ase import Atoms

from geoelf.field import Field
from geoelf.model.predict import Prediction
from geoelf.train.data import promolecular_elf


class PromolecularBaseline:
    """No learning: the ELF of superposed hydrogen 1s atoms (see train.data.promolecular_elf)."""

    name = "promolecular"

    def grid(self, atoms: Atoms, shape: tuple[int, int, int], source: str | None = None) -> Prediction:
        t0 = time.perf_counter()
        elf = promolecular_elf(atoms, shape)
        return Prediction(Field(elf, atoms.copy(), "ELF", {"model": self.name}), time.perf_counter() - t0, False, [])


def get_model(name: str | None):
    """A baseline by name, else a trained model package (path or shipped name)."""
    if name == "promolecular":
        return PromolecularBaseline()
    from geoelf.model import package
    from geoelf.model.predict import Predictor

    net, config = package.load(name)
    if config.get("architecture") == "elfnet-cnn":
        from geoelf.model.cnn import CnnPredictor

        return CnnPredictor(net, config)
    return Predictor(name)
