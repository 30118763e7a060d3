"""Turn structures and probe points into the tensors ProbeNet consumes (several structures at once)."""

from __future__ import annotations

import numpy as np
import torch
from ase import Atoms

from geoelf.model.neighbours import neighbour_pairs, neighbour_pairs_torch


def make_batch(structures: list[tuple[Atoms, np.ndarray]], cutoff_atom: float, cutoff_probe: float,
               dtype: torch.dtype = torch.float32, device: str = "cpu") -> dict:
    """Concatenate (atoms, probe points (P, 3) Å) pairs into one batch; indices are offset.

    ``structures`` keeps, per structure, (first atom, end atom, cell, positions, points) for the
    long-range channels, which need whole structures rather than pairs. On a GPU the neighbour
    search runs there too (brute force over images), which keeps training from waiting on the CPU.
    """
    if str(device).startswith("cuda"):
        return _make_batch_on_device(structures, cutoff_atom, cutoff_probe, dtype, device)
    numbers, ai, aj, r_aa, pi, pa, disp, whole = [], [], [], [], [], [], [], []
    atom_offset = probe_offset = 0
    for atoms, points in structures:
        cell = atoms.cell.array
        i, j, d = neighbour_pairs(atoms.positions, atoms.positions, cell, cutoff_atom, exclude_self=True)
        numbers.append(atoms.numbers)
        ai.append(i + atom_offset)
        aj.append(j + atom_offset)
        r_aa.append(np.linalg.norm(d, axis=1))
        p, a, dp = neighbour_pairs(points, atoms.positions, cell, cutoff_probe)
        pi.append(p + probe_offset)
        pa.append(a + atom_offset)
        disp.append(dp)
        whole.append((atom_offset, atom_offset + len(atoms), cell, torch.as_tensor(atoms.positions, dtype=dtype, device=device),
                      torch.as_tensor(np.asarray(points), dtype=dtype, device=device)))
        atom_offset += len(atoms)
        probe_offset += len(points)

    def t(parts, kind):
        arr = np.concatenate(parts) if parts else np.zeros(0)
        return torch.as_tensor(arr, dtype=kind, device=device)

    return {
        "numbers": t(numbers, torch.long), "ai": t(ai, torch.long), "aj": t(aj, torch.long),
        "r_aa": t(r_aa, dtype), "n_probes": probe_offset, "pi": t(pi, torch.long), "pa": t(pa, torch.long),
        "disp": t(disp, dtype).reshape(-1, 3), "structures": whole,
    }


def _make_batch_on_device(structures: list[tuple[Atoms, np.ndarray]], cutoff_atom: float, cutoff_probe: float,
                          dtype: torch.dtype, device: str) -> dict:
    """``make_batch`` with the neighbour search in torch on ``device`` (same pairs, same keys)."""
    numbers, ai, aj, r_aa, pi, pa, disp, whole = [], [], [], [], [], [], [], []
    atom_offset = probe_offset = 0
    for atoms, points in structures:
        cell = atoms.cell.array
        i, j, d = neighbour_pairs_torch(atoms.positions, atoms.positions, cell, cutoff_atom, exclude_self=True, device=device)
        numbers.append(torch.as_tensor(atoms.numbers, dtype=torch.long, device=device))
        ai.append(i + atom_offset)
        aj.append(j + atom_offset)
        r_aa.append(torch.linalg.vector_norm(d, dim=1).to(dtype))
        p, a, dp = neighbour_pairs_torch(points, atoms.positions, cell, cutoff_probe, device=device)
        pi.append(p + probe_offset)
        pa.append(a + atom_offset)
        disp.append(dp.to(dtype))
        whole.append((atom_offset, atom_offset + len(atoms), cell, torch.as_tensor(atoms.positions, dtype=dtype, device=device),
                      torch.as_tensor(np.asarray(points), dtype=dtype, device=device)))
        atom_offset += len(atoms)
        probe_offset += len(points)
    return {"numbers": torch.cat(numbers), "ai": torch.cat(ai), "aj": torch.cat(aj), "r_aa": torch.cat(r_aa),
            "n_probes": probe_offset, "pi": torch.cat(pi), "pa": torch.cat(pa), "disp": torch.cat(disp).reshape(-1, 3),
            "structures": whole}
