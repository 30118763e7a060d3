"""Turn structures and probe points into the tensors ProbeNet consumes (several structures at once)."""

from __future__ import annotations

import numpy as np
import torch
from ase import Atoms

from geoelf.neighbours import neighbour_pairs, neighbour_pairs_torch


def make_batch(
    structures: list[tuple[Atoms, np.ndarray]],
    cutoff_atom: float,
    cutoff_probe: float,
    dtype: torch.dtype = torch.float32,
    device: str = "cpu",
    brute_force: bool | None = None,
    atom_pairs: list | None = None,
) -> dict:
    """Concatenate (atoms, probe points (P, 3) Å) pairs into one batch; indices are offset.

    ``structures`` keeps, per structure, (first atom, end atom, cell, positions, points) for the
    long-range channels, which need whole structures rather than pairs. On a GPU the neighbour
    search runs there too (brute force over images, or wherever ``brute_force`` asks), which keeps
    training from waiting on the CPU. ``atom_pairs``: per structure, its atom–atom pairs as
    ``neighbour_pairs`` returns them (training caches them: a snapshot's atoms never move).
    """
    brute = str(device).startswith("cuda") if brute_force is None else brute_force
    numbers, ai, aj, d_aa, pi, pa, disp, whole = [], [], [], [], [], [], [], []
    atom_offset = probe_offset = 0
    for k, (atoms, points) in enumerate(structures):
        cell = atoms.cell.array
        if atom_pairs is None:
            i, j, d = _pairs(atoms.positions, atoms.positions, cell, cutoff_atom, True, brute, device)
        else:
            i, j, d = (torch.as_tensor(x, device=device) for x in atom_pairs[k])
        numbers.append(torch.as_tensor(atoms.numbers, dtype=torch.long, device=device))
        ai.append(i + atom_offset)
        aj.append(j + atom_offset)
        d_aa.append(d.to(dtype))
        p, a, dp = _pairs(points, atoms.positions, cell, cutoff_probe, False, brute, device)
        pi.append(p + probe_offset)
        pa.append(a + atom_offset)
        disp.append(dp.to(dtype))
        whole.append(
            (
                atom_offset,
                atom_offset + len(atoms),
                cell,
                torch.as_tensor(atoms.positions, dtype=dtype, device=device),
                torch.as_tensor(np.asarray(points), dtype=dtype, device=device),
            )
        )
        atom_offset += len(atoms)
        probe_offset += len(points)

    def cat(parts, kind):
        return torch.cat(parts).to(kind) if parts else torch.zeros(0, dtype=kind, device=device)

    return {
        "numbers": cat(numbers, torch.long),
        "ai": cat(ai, torch.long),
        "aj": cat(aj, torch.long),
        "d_aa": cat(d_aa, dtype).reshape(-1, 3),
        "n_probes": probe_offset,
        "pi": cat(pi, torch.long),
        "pa": cat(pa, torch.long),
        "disp": cat(disp, dtype).reshape(-1, 3),
        "structures": whole,
    }


def _pairs(points, positions, cell, cutoff: float, exclude_self: bool, brute: bool, device: str):
    """Neighbour pairs as tensors on ``device``: the KD-tree on the CPU, brute force in torch on a GPU."""
    if brute:
        return neighbour_pairs_torch(points, positions, cell, cutoff, exclude_self=exclude_self, device=device)
    p, a, d = neighbour_pairs(points, positions, cell, cutoff, exclude_self=exclude_self)
    return (
        torch.as_tensor(p, device=device),
        torch.as_tensor(a, device=device),
        torch.as_tensor(d, dtype=torch.float64, device=device),
    )
