"""An independent, slow reference for periodic percolation (used only by the tests).

Labels the superlevel set inside the unit cell with scipy.ndimage.label (no wrap-around), then
joins labels across the periodic faces with a breadth-first search that carries lattice offsets;
the wrap vectors of the loops it closes give each component's dimension.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from scipy import ndimage


def periodic_dimension(mask: np.ndarray) -> int:
    """Largest number of independent lattice directions in which one component of ``mask`` is periodic."""
    labels, n = ndimage.label(mask)
    edges: dict[int, list[tuple[int, np.ndarray]]] = {i: [] for i in range(1, n + 1)}
    for axis in range(3):
        last = np.take(labels, -1, axis=axis)
        first = np.take(labels, 0, axis=axis)
        both = (last > 0) & (first > 0)
        shift = np.zeros(3, dtype=int)
        shift[axis] = 1
        for a, b in set(zip(last[both].tolist(), first[both].tolist())):
            edges[a].append((b, shift))
            edges[b].append((a, -shift))
    cell: dict[int, np.ndarray] = {}
    best = 0
    for start in range(1, n + 1):
        if start in cell:
            continue
        cell[start] = np.zeros(3, dtype=int)
        wraps = []
        queue = deque([start])
        while queue:
            a = queue.popleft()
            for b, s in edges[a]:
                if b not in cell:
                    cell[b] = cell[a] + s
                    queue.append(b)
                else:
                    w = cell[a] + s - cell[b]
                    if np.any(w):
                        wraps.append(w)
        if wraps:
            best = max(best, int(np.linalg.matrix_rank(np.array(wraps, dtype=float))))
    return best
