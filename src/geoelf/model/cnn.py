"""ELFNet-style baseline: a periodic 3D CNN from the superposed atomic density grid to the ELF.

After Austin243/ELFNet: residual Conv3d blocks with circular padding and a sigmoid head, here
sized for CPU. Its input is log ρ of superposed hydrogen 1s atoms on the same grid as the
target, so it only works on grids of the spacing it was trained on (the DFT grid), and it is
equivariant only to grid-commensurate translations — the contrast with ProbeNet is the point.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn


@dataclass
class CnnConfig:
    species: list[int] = field(default_factory=lambda: [1])
    channels: int = 16
    blocks: int = 4

    def as_dict(self) -> dict:
        return asdict(self)


class Block(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.a = nn.Conv3d(c, c, 3, padding=1, padding_mode="circular")
        self.b = nn.Conv3d(c, c, 3, padding=1, padding_mode="circular")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.b(nn.functional.silu(self.a(x)))


class ElfCnn(nn.Module):
    """(B, 1, N1, N2, N3) density features → (B, N1, N2, N3) ELF."""

    architecture = "elfnet-cnn"

    def __init__(self, config: CnnConfig) -> None:
        super().__init__()
        self.config = config
        c = config.channels
        self.stem = nn.Conv3d(1, c, 3, padding=1, padding_mode="circular")
        self.body = nn.Sequential(*[Block(c) for _ in range(config.blocks)])
        self.head = nn.Conv3d(c, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.head(self.body(nn.functional.silu(self.stem(x))))[:, 0])


def density_input(atoms, shape) -> np.ndarray:
    """The CNN's input: log10 of the superposed atomic density, scaled to about [−1, 1]."""
    from geoelf.model.atomic_density import superposed_1s

    rho = np.maximum(superposed_1s(atoms, tuple(shape))[0], 1e-12)  # the density alone: no ELF needed here
    return ((np.log10(rho) + 1.0) / 2.0).astype(np.float32)
