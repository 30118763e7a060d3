"""Baselines that ``geoelf evaluate`` runs like any model (``--model promolecular``)."""

from __future__ import annotations

import time
from typing import ClassVar

from ase import Atoms

from geoelf.errors import GeoelfError
from geoelf.field import Field
from geoelf.model.atomic_density import promolecular_elf
from geoelf.model.package import provenance as package_provenance
from geoelf.model.predict import Prediction, check_structure


class Baseline:
    """What the baselines share: no error model, no memory beyond the grid's."""

    calibration = None

    def structure_bytes(self, atoms: Atoms) -> int:
        return 0


class PromolecularBaseline(Baseline):
    """No learning: the ELF of superposed hydrogen 1s atoms (``atomic_density.promolecular_elf``)."""

    name = "promolecular"
    provenance: ClassVar[dict[str, object]] = {
        "model": "promolecular",
        "model_version": 1,
        "weights_sha256": None,
        "config_sha256": None,
    }

    def check(self, atoms: Atoms, source: str | None = None) -> None:
        check_structure(atoms, {1}, self.name, source)

    def grid(
        self, atoms: Atoms, shape: tuple[int, int, int], source: str | None = None, uncertainty: bool = False
    ) -> Prediction:
        self.check(atoms, source)
        no_uncertainty(self.name, uncertainty)
        t0 = time.perf_counter()
        elf = promolecular_elf(atoms, shape)
        return Prediction(Field(elf, atoms.copy(), "ELF", {"model": self.name}), time.perf_counter() - t0, False, [])


def no_uncertainty(name: str, asked: bool) -> None:
    """Baselines carry no error model: asking for one is the user's error."""
    if asked:
        raise GeoelfError(f"model {name} has no uncertainty calibration")


class CnnPredictor(Baseline):
    """Runs a trained ElfCnn package like a Predictor (grid only)."""

    def __init__(self, net, config: dict) -> None:
        self.net = net.eval()
        self.config = config
        self.name = config["name"]
        self.provenance = package_provenance(config)

    def check(self, atoms, source=None) -> None:
        check_structure(atoms, set(self.config["net"]["species"]), self.name, source)

    def grid(self, atoms, shape, source=None, uncertainty: bool = False):
        import torch

        from geoelf.model.cnn import density_input

        self.check(atoms, source)
        no_uncertainty(self.name, uncertainty)
        t0 = time.perf_counter()
        x = torch.from_numpy(density_input(atoms, shape))[None, None]
        with torch.no_grad():
            elf = self.net(x)[0].double().numpy()
        return Prediction(Field(elf, atoms.copy(), "ELF", {"model": self.name}), time.perf_counter() - t0, False, [])


def get_model(name: str | None, threads: int | None = None):
    """A baseline by name, else a trained model package (path or shipped name), validated on load.
    ``threads`` limits the CPU threads of a trained model (default: all)."""
    if name == "promolecular":
        return PromolecularBaseline()
    from geoelf.model import package
    from geoelf.model.predict import Predictor

    _, config = package.read_config(name)
    if config["architecture"] == "elfnet-cnn":
        return CnnPredictor(*package.load(name))
    return Predictor(name, threads)
