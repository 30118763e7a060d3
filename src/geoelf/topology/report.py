"""The ``geoelf topology`` document: critical points after nuclear regions are merged."""

from __future__ import annotations

from typing import Any

import numpy as np

from geoelf.topology.critical_points import KINDS, morse_sum
from geoelf.topology.graph import PeriodicNeighbours
from geoelf.topology.network import Analysis, morse_counts


def wrap_frac(frac: np.ndarray) -> np.ndarray:
    """Fractional coordinates in [0, 1), with values a rounding error below 1 sent to 0."""
    out = np.mod(frac, 1.0)
    out[out > 1.0 - 1e-9] = 0.0
    return out


def topology_document(an: Analysis) -> dict[str, Any]:
    """Counts, Morse sum and every critical point (maxima are the graph's attractors).

    Each point: kind, signature, frac, cart (Å), value, eigenvalues (Å⁻², ascending); maxima add
    ``label`` ('nucleus' with ``atoms``, 'bond', 'non-nuclear'); bond points add ``joins`` (two
    attractor indices, in the order of ``points``) and ``translation`` (lattice vector of the
    second relative to the first). Points inside nuclear regions are counted in ``merged``.
    """
    field, cps, g = an.field, an.points, an.graph
    inv = np.linalg.inv(field.cell)
    counts = morse_counts(an)
    points: list[dict[str, Any]] = []
    for k in range(len(g.node_value)):
        x = g.node_pos[k]
        entry = {
            "kind": "max",
            "signature": [3, -3],
            "frac": wrap_frac(x @ inv).tolist(),
            "cart": x.tolist(),
            "value": float(g.node_value[k]),
            "label": g.node_kind[k],
        }
        if g.node_atoms[k]:
            entry["atoms"] = [int(a) for a in g.node_atoms[k]]
            entry["symbols"] = [field.atoms[a].symbol for a in g.node_atoms[k]]
        else:
            cp = int(np.argmin(np.linalg.norm(cps.cart - x, axis=1)))
            entry["eigenvalues"] = cps.eigenvalues[cp].tolist()
        points.append(entry)
    joins = {int(cp): (int(e[0]), int(e[1]), s) for cp, e, s in zip(g.edge_cp, g.edges, g.edge_shift)}
    if len(field.atoms) and len(cps.value):
        a, dist, _ = PeriodicNeighbours(field.atoms.positions, field.cell).nearest(cps.cart)
        from geoelf.topology.graph import region_radii

        inside = dist < region_radii(field.atoms.numbers)[a]
    else:
        inside = np.zeros(len(cps.value), bool)
    for i in np.flatnonzero((cps.kind > 0) & ~inside):
        kind = KINDS[cps.kind[i]]
        entry = {
            "kind": kind,
            "signature": [3, int(2 * cps.kind[i] - 3)],
            "frac": cps.frac[i].tolist(),
            "cart": cps.cart[i].tolist(),
            "value": float(cps.value[i]),
            "eigenvalues": cps.eigenvalues[i].tolist(),
        }
        if kind == "bond" and int(i) in joins:
            a0, b0, s = joins[int(i)]
            entry["joins"] = [a0, b0]
            entry["translation"] = [int(x) for x in s]
        points.append(entry)
    return {
        "file": field.meta.get("source"),
        "counts": counts,
        "morse_sum": morse_sum(counts),
        "merged": g.removed,
        "unassigned_bonds": g.unassigned_bonds,
        "raw_morse_sum": cps.morse_sum,
        "subdivision_depth": cps.extra.get("subdivision_depth"),
        "points": points,
    }
