"""The attractor graph of an ELF: nodes are attractors, edges are bond critical points.

Nuclear regions: a ball around every nucleus — 0.6 bohr for H (critic2's NUCEPSH, as TcESTIME
uses) and half the covalent radius for heavier atoms (their core shells). ELF near a nucleus is
a numerically flat plateau (H) or a stack of core shells, full of spurious critical points; each
region is replaced by one maximum, the nuclear attractor (overlapping balls make one region).
The remaining maxima are non-nuclear attractors, labelled 'bond' when they sit between two H
atoms. Each bond point is joined to the two attractors reached by steepest ascent from it along
± its ascending eigenvector, with the lattice translation between them.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field

import numpy as np
from ase.data import covalent_radii

from geoelf.field import Field
from geoelf.interp import Interpolator
from geoelf.topology.critical_points import KINDS, CriticalPoints
from geoelf.units import BOHR

H_REGION = 0.6 * BOHR  # Å: critic2 NUCEPSH 0.6 bohr
CORE_FRACTION = 0.5  # heavy-atom core region = this × covalent radius
_IMAGES = np.array([[a, b, c] for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1)])


def region_radii(numbers: np.ndarray) -> np.ndarray:
    """Radius (Å) of the nuclear region of each atom."""
    numbers = np.asarray(numbers)
    return np.where(numbers == 1, H_REGION, CORE_FRACTION * covalent_radii[numbers])


@dataclass
class AttractorGraph:
    """Nodes (attractors) and edges (bond points) of a periodic field.

    node_pos (K, 3) Å; node_value (K,); node_kind: 'nucleus' | 'bond' | 'non-nuclear';
    node_atoms: atom indices in each nuclear node (empty for others).
    edges: (E, 2) node indices; edge_shift (E, 3) lattice translation of the second node relative
    to the first; edge_value (E,); edge_cp (E,) index of the bond point in ``points``.
    """

    node_pos: np.ndarray
    node_value: np.ndarray
    node_kind: list[str]
    node_atoms: list[list[int]]
    edges: np.ndarray
    edge_shift: np.ndarray
    edge_value: np.ndarray
    edge_cp: np.ndarray
    points: CriticalPoints
    unassigned_bonds: int = 0
    removed: dict = dc_field(default_factory=dict)

    def atom_node(self, natoms: int) -> np.ndarray:
        out = -np.ones(natoms, dtype=int)
        for k, atoms in enumerate(self.node_atoms):
            out[atoms] = k
        return out


class PeriodicNeighbours:
    """Nearest of a set of sites (N, 3) Å in a periodic cell, with the lattice image reached."""

    def __init__(self, sites: np.ndarray, cell: np.ndarray) -> None:
        from scipy.spatial import cKDTree

        self.cell = cell
        self.inv = np.linalg.inv(cell)
        frac = np.asarray(sites, dtype=float).reshape(-1, 3) @ self.inv
        self.floor = np.floor(frac)
        self.n = len(frac)
        images = (frac - self.floor)[None, :, :] + _IMAGES[:, None, :]  # (27, N, 3)
        self.tree = cKDTree(images.reshape(-1, 3) @ cell) if self.n else None

    def nearest(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For points x (M, 3) Å: site index, distance (Å) and the integer translation T with
        x ≈ site + T·cell."""
        frac = np.asarray(x, dtype=float).reshape(-1, 3) @ self.inv
        base = np.floor(frac)
        if self.tree is None:
            raise ValueError("no sites to search")
        dist, q = self.tree.query((frac - base) @ self.cell)
        img, site = np.divmod(q, self.n)
        shift = base + _IMAGES[img] - self.floor[site]
        return site, dist, shift.astype(int)


def build_graph(field: Field, cps: CriticalPoints, interp: Interpolator) -> AttractorGraph:
    """Merge nuclear regions and connect attractors through bond points."""
    atoms = field.atoms
    cell, inv = field.cell, np.linalg.inv(field.cell)
    pos = atoms.positions
    radii = region_radii(atoms.numbers)
    region = _regions(pos, radii, cell)
    owner = region_of_atom(region, len(pos))
    # critical points inside nuclear regions are replaced by the nuclear attractor
    inside = np.zeros(len(cps.value), dtype=bool)
    cp_region = -np.ones(len(cps.value), dtype=int)
    nuclei = PeriodicNeighbours(pos, cell) if len(pos) else None
    if nuclei and len(cps.value):
        a, dist, _ = nuclei.nearest(cps.cart)
        index = EnclosedIndex(owner[a], dist / radii[a], cps.kind)
        radii = radii * region_scales(region, pos, radii, interp, cell, index)[owner]
        inside = dist < radii[a]
        cp_region[inside] = owner[a[inside]]
    removed = {name: int(np.sum(inside & (cps.kind == i))) for i, name in enumerate(KINDS)}
    at_nuclei = interp.value(pos @ inv) if len(pos) else np.zeros(0)
    node_pos, node_value, node_kind, node_atoms = [], [], [], []
    for k, members in enumerate(region):
        # the attractor's value: the highest maximum in the region, or the field at the nucleus
        candidates = [*at_nuclei[members], *cps.value[(cp_region == k) & (cps.kind == 0)]]
        node_pos.append(pos[members[0]])
        node_value.append(float(max(candidates)))
        node_kind.append("nucleus")
        node_atoms.append(list(members))
    maxima = np.flatnonzero((cps.kind == 0) & ~inside)
    for m in maxima:
        node_pos.append(cps.cart[m])
        node_value.append(float(cps.value[m]))
        node_kind.append(_maximum_label(cps.cart[m], atoms, cell, inv))
        node_atoms.append([])
    node_pos_arr = np.array(node_pos).reshape(-1, 3)
    bonds = np.flatnonzero((cps.kind == 1) & ~inside)
    edges, shifts, values, used, unassigned = _connect(bonds, cps, interp, field, nuclei, node_pos_arr, owner, radii)
    return AttractorGraph(
        node_pos_arr, np.array(node_value), node_kind, node_atoms, edges, shifts, values, used, cps, unassigned, removed
    )


SCALES = (1.0, 0.95, 1.05, 0.9, 1.1, 0.85, 1.15, 0.8, 1.2, 0.7, 1.3, 0.6)


def _sphere(n: int = 48) -> np.ndarray:
    """Nearly uniform unit vectors (Fibonacci sphere), shape (n, 3)."""
    k = np.arange(n) + 0.5
    phi = np.arccos(1 - 2 * k / n)
    theta = np.pi * (1 + 5**0.5) * k
    return np.stack([np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi), np.cos(phi)], axis=1)


@dataclass
class EnclosedIndex:
    """Σ (−1)^kind of the critical points inside a region at a radius scale: each point's region
    (``region`` (M,)), its distance to the nearest nucleus over that nucleus's radius (``rel`` (M,))
    and its kind (number of positive eigenvalues)."""

    region: np.ndarray
    rel: np.ndarray
    kind: np.ndarray

    def __post_init__(self) -> None:
        self.sign = 1 - 2 * (np.asarray(self.kind) % 2)  # the index of each point, computed once

    def __call__(self, k: int, scale: float) -> int:
        return int(np.sum(self.sign[(self.region == k) & (self.rel < scale)]))


def region_scales(
    region: list[list[int]],
    pos: np.ndarray,
    radii: np.ndarray,
    interp: Interpolator,
    cell: np.ndarray,
    index: EnclosedIndex,
) -> np.ndarray:
    """Per region, the radius scale nearest 1 at which the gradient points inward all over its
    boundary and the critical points inside add up to the index of one maximum.

    Then, by Poincaré–Hopf, whatever the region holds stands for one attractor — however flat and
    noisy its inside is. A fixed radius sometimes cuts through the neighbourhood of a saddle (an
    H–H bond point 0.32–0.37 Å from each proton sits right at 0.6 bohr), so the radius is adapted a
    little. The gradient is sampled at 48 boundary points, which can miss the small patch where a
    saddle just inside the sphere turns it outward; the index condition catches that case. Where
    no scale meets both, the scale nearest 1 with the right index is taken; where none has it
    (an incomplete set of critical points), the inward test alone decides, else 1.
    """
    inv = np.linalg.inv(cell)
    dirs = _sphere()
    out = np.ones(len(region))
    for k, members in enumerate(region):
        by_index = [scale for scale in SCALES if index(k, scale) == 1]
        out[k] = by_index[0] if by_index else 1.0
        for scale in by_index or SCALES:
            pts, normals = [], []
            for i in members:
                p = pos[i] + dirs * radii[i] * scale
                # drop boundary points that lie inside another member's ball (overlapping regions)
                ok = np.ones(len(p), bool)
                for j in members:
                    if j != i:
                        ok &= np.linalg.norm(p - pos[j], axis=1) >= radii[j] * scale
                pts.append(p[ok])
                normals.append(dirs[ok])
            g = interp.gradient(np.concatenate(pts) @ inv)
            if np.all(np.sum(g * np.concatenate(normals), axis=1) < 0):
                out[k] = scale
                break
    return out


def region_of_atom(region: list[list[int]], natoms: int) -> np.ndarray:
    out = np.zeros(natoms, dtype=int)
    for k, members in enumerate(region):
        out[members] = k
    return out


def _regions(pos: np.ndarray, radii: np.ndarray, cell: np.ndarray) -> list[list[int]]:
    """Groups of atoms whose nuclear balls overlap (periodic; linear in the number of atoms)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from geoelf.neighbours import neighbour_pairs

    n = len(pos)
    if n == 0:
        return []
    i, j, d = neighbour_pairs(pos, pos, cell, 2 * float(radii.max()), exclude_self=True)
    touch = np.linalg.norm(d, axis=1) < radii[i] + radii[j]
    graph = coo_matrix((np.ones(int(touch.sum())), (i[touch], j[touch])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return [np.flatnonzero(labels == k).tolist() for k in range(labels.max() + 1)]


def _maximum_label(x: np.ndarray, atoms, cell: np.ndarray, inv: np.ndarray) -> str:
    """'bond' when the maximum lies near the midpoint of two H atoms ≤ 1.3 Å apart."""
    h = np.flatnonzero(atoms.numbers == 1)
    if len(h) < 2:
        return "non-nuclear"
    d = x @ inv - atoms.positions[h] @ inv
    d -= np.rint(d)
    dc = d @ cell  # vectors from each H to x (minimum image)
    r = np.linalg.norm(dc, axis=1)
    i, j = np.argsort(r)[:2]
    hh = np.linalg.norm(dc[i] - dc[j])
    mid = 0.5 * (dc[i] + dc[j])
    return "bond" if hh <= 1.3 and np.linalg.norm(mid) <= 0.25 * hh else "non-nuclear"


def _connect(bonds, cps, interp, field, nuclei, node_pos, owner, radii):
    """Steepest ascent from each bond point in both directions; returns the graph edges."""
    cell, inv = field.cell, np.linalg.inv(field.cell)
    n_nuc = int(owner.max()) + 1 if len(owner) else 0
    if len(bonds) == 0:
        return np.zeros((0, 2), int), np.zeros((0, 3), int), np.zeros(0), np.zeros(0, int), 0
    step0 = 0.25 * float(field.spacing.min())
    direction = cps.eigenvectors[bonds][:, :, 2]  # eigenvector of the positive eigenvalue
    start = np.concatenate([cps.cart[bonds] + step0 * direction, cps.cart[bonds] - step0 * direction])
    others = PeriodicNeighbours(node_pos[n_nuc:], cell) if len(node_pos) > n_nuc else None
    node, shift = _ascend(start, interp, inv, nuclei, radii, owner, others, step0)
    node = np.where(node >= 0, node, -1)
    nb = len(bonds)
    na, sa, nbn, sb = node[:nb], shift[:nb], node[nb:], shift[nb:]
    ok = (na >= 0) & (nbn >= 0)
    edges = np.stack([na[ok], nbn[ok]], 1)
    return edges, (sb - sa)[ok], cps.value[bonds][ok], bonds[ok], int(np.sum(~ok))


def _ascend(x, interp, inv, nuclei, radii, owner, others, h0, max_iter=4000):
    """Follow the gradient uphill until a nuclear region or a non-nuclear maximum is reached.

    Returns node index (nuclear regions first, then non-nuclear maxima; -1 if lost) and the
    lattice translation of the reached node's image.
    """
    m = len(x)
    x = x.copy()
    h = np.full(m, h0)
    node = -np.ones(m, dtype=int)
    shift = np.zeros((m, 3), dtype=int)
    active = np.ones(m, dtype=bool)
    n_nuc = owner.max() + 1 if len(owner) else 0
    shape = interp.shape
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        xi = x[idx]
        if nuclei is not None:
            a, dist, img = nuclei.nearest(xi)
            hit = dist < radii[a]
            node[idx[hit]] = owner[a[hit]]
            shift[idx[hit]] = img[hit]
            active[idx[hit]] = False
            idx, xi = idx[~hit], xi[~hit]
        if idx.size == 0:
            break
        val, g, _ = interp.evaluate_u((xi @ inv) * shape)
        gc = g @ interp.jac.T
        gn = np.linalg.norm(gc, axis=1)
        trial = xi + (h[idx] / np.maximum(gn, 1e-300))[:, None] * gc
        tval = interp.evaluate_u((trial @ inv) * shape)[0]
        up = tval > val
        x[idx[up]] = trial[up]
        h[idx[~up]] *= 0.5
        stuck = h[idx] < 1e-5
        if np.any(stuck) and others is not None:
            s_idx = idx[stuck]
            k, dist, img = others.nearest(x[s_idx])
            found = dist < 0.2
            node[s_idx[found]] = n_nuc + k[found]
            shift[s_idx[found]] = img[found]
        active[idx[stuck]] = False
    return node, shift
