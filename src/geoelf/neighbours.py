"""Periodic neighbour lists (any triclinic cell, cells smaller than the cutoff) with scipy's KD-tree.

Pairs are returned as index arrays and displacement vectors (Å) ``r = x_target − x_source``
including the right lattice image, so the network never needs the cell itself.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree


def image_range(cell: np.ndarray, cutoff: float) -> np.ndarray:
    """Lattice images (M, 3) that hold every pair closer than ``cutoff`` between a point and an
    atom that are both wrapped into the cell (fractional coordinates in [0, 1]).

    Along a_i the planes of the lattice are 1/|b_i| apart (b_i reciprocal, no 2π), so a pair at
    distance r differs by |d_i + k_i| ≤ r |b_i| in fractional coordinate i; with |d_i| ≤ 1 that
    needs |k_i| < 1 + cutoff |b_i|, i.e. |k_i| ≤ ceil(cutoff |b_i|) (the tiny margin makes it
    a superset when cutoff |b_i| is an integer).
    """
    recip = np.linalg.inv(cell).T
    n = [int(math.ceil(cutoff * float(np.linalg.norm(b)) + 1e-9)) for b in recip]
    grids = np.meshgrid(*[np.arange(-k, k + 1) for k in n], indexing="ij")
    return np.stack([g.ravel() for g in grids], axis=1)


def _zero_image(images) -> int:
    """Index of the (0, 0, 0) translation in an image list (numpy array or tensor, (M, 3))."""
    return int((abs(images).sum(1) == 0).nonzero()[0][0])


def neighbour_pairs(
    points: np.ndarray, positions: np.ndarray, cell: np.ndarray, cutoff: float, exclude_self: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All (point, atom image) pairs closer than ``cutoff``.

    Args:
        points: (P, 3) Å, anywhere (wrapped into the cell internally).
        positions: (N, 3) Å atom positions.
        cell: (3, 3) Å lattice vectors as rows.
        exclude_self: ``points`` are the atoms themselves: drop each atom's pair with itself (by
            index and lattice image, so two atoms given at one place still see each other).
    Returns:
        point index (E,), atom index (E,), displacement atom→point (E, 3) Å.
    """
    inv = np.linalg.inv(cell)
    pf = np.asarray(points, dtype=float) @ inv
    shift = np.floor(pf)
    wrapped = (pf - shift) @ cell
    af = np.asarray(positions, dtype=float) @ inv
    af -= np.floor(af)
    images = image_range(cell, cutoff)
    all_atoms = ((af[None, :, :] + images[:, None, :]).reshape(-1, 3)) @ cell
    n = len(positions)
    if len(points) == 0 or n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 3))
    mat = cKDTree(wrapped).sparse_distance_matrix(cKDTree(all_atoms), cutoff, output_type="coo_matrix")
    p, q = mat.row.astype(np.int64), mat.col.astype(np.int64)
    disp = wrapped[p] - all_atoms[q]
    if exclude_self:
        keep = (p != q % n) | (q // n != _zero_image(images))
        p, q, disp = p[keep], q[keep], disp[keep]
    order = np.argsort(p, kind="stable")
    return p[order], (q % n)[order], disp[order]


def shortest_distance(atoms, cutoff: float) -> float:
    """The shortest distance (Å) between two atoms of a periodic structure, periodic images included;
    inf when no two are closer than ``cutoff``."""
    _, _, d = neighbour_pairs(atoms.positions, atoms.positions, atoms.cell.array, cutoff, exclude_self=True)
    return float(np.linalg.norm(d, axis=1).min()) if len(d) else math.inf


def neighbour_pairs_torch(
    points,
    positions,
    cell: np.ndarray,
    cutoff: float,
    exclude_self: bool = False,
    device: str = "cpu",
    max_block: int = 2**25,
):
    """``neighbour_pairs`` by brute force over atom images in torch, on ``device`` (a GPU in training).

    Same pairs and displacements as the KD-tree version (the order within a point may differ).
    Points are taken in blocks so that a block's displacement array stays under ``max_block``
    entries. Args as ``neighbour_pairs`` (numpy arrays or tensors); returns tensors on ``device``.
    """
    import torch

    dt = torch.float64
    cell_t = torch.as_tensor(cell, dtype=dt, device=device)
    inv = torch.linalg.inv(cell_t)
    pf = torch.as_tensor(points, dtype=dt, device=device).reshape(-1, 3) @ inv
    wrapped = (pf - torch.floor(pf)) @ cell_t
    af = torch.as_tensor(positions, dtype=dt, device=device).reshape(-1, 3) @ inv
    af = af - torch.floor(af)
    images = torch.as_tensor(image_range(cell, cutoff), dtype=dt, device=device)
    all_atoms = (af[None, :, :] + images[:, None, :]).reshape(-1, 3) @ cell_t  # image-major: index % n is the atom
    n = len(af)
    ps, qs, ds = [], [], []
    block = max(1, max_block // max(1, 3 * len(all_atoms)))
    for start in range(0, len(wrapped), block):
        disp = wrapped[start : start + block, None, :] - all_atoms[None, :, :]  # (B, M·N, 3)
        r2 = (disp * disp).sum(-1)
        near = r2 < cutoff * cutoff
        if exclude_self:
            rows = torch.arange(start, start + len(disp), device=device)
            near[torch.arange(len(disp), device=device), _zero_image(images) * n + rows] = False
        p, q = near.nonzero(as_tuple=True)
        ps.append(p + start)
        qs.append(q % n)
        ds.append(disp[p, q])
    if not ps:
        empty = torch.zeros(0, dtype=torch.long, device=device)
        return empty, empty, torch.zeros((0, 3), dtype=dt, device=device)
    return torch.cat(ps), torch.cat(qs), torch.cat(ds)
