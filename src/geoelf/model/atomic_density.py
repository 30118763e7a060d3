"""Superposed hydrogen 1s atoms on a periodic grid (numba): density, its gradient and the
Weizsäcker kinetic energy density of the atoms, the inputs of the promolecular ELF baseline and of
the CNN baseline.

Like the fused probe kernel, every atom visits the grid points inside a box in grid indices that
covers its cutoff sphere (any triclinic cell, periodic images included), so no pair list is built:
a 64-atom cell on a 45³ grid takes well under a second instead of seconds through a KD-tree.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from geoelf.model.grid_kernel import box, cartesian, fractional_reach

BOHR = 0.529177210903  # Å


@numba.njit(cache=True)
def _superpose(shape: np.ndarray, cell: np.ndarray, frac_atoms: np.ndarray, reach: np.ndarray, rc: float,
               rho: np.ndarray, grad: np.ndarray, tau: np.ndarray) -> None:
    """Add ρ_a = e^{−2r}/π (bohr⁻³), ∇ρ_a (bohr⁻⁴) and τ_W,a = ρ_a/2 of every atom within ``rc`` Å."""
    n0, n1, n2 = shape[0], shape[1], shape[2]
    rc2 = rc * rc
    for a in range(frac_atoms.shape[0]):
        fa0, fa1, fa2 = frac_atoms[a, 0], frac_atoms[a, 1], frac_atoms[a, 2]
        for gi in box(fa0, reach[0], n0):
            d0 = gi / n0 - fa0
            for gj in box(fa1, reach[1], n1):
                d1 = gj / n1 - fa1
                for gk in box(fa2, reach[2], n2):
                    x, y, z = cartesian(d0, d1, gk / n2 - fa2, cell)
                    r2 = x * x + y * y + z * z
                    if r2 >= rc2:
                        continue
                    r = math.sqrt(r2)
                    dens = math.exp(-2.0 * r / BOHR) / math.pi
                    ii, jj, kk = gi % n0, gj % n1, gk % n2
                    rho[ii, jj, kk] += dens
                    tau[ii, jj, kk] += 0.5 * dens  # |∇ρ_a|²/(8ρ_a) = 4ρ_a²/(8ρ_a)
                    if r > 1e-12:  # the grid point vector minus the atom, as a unit vector
                        g = -2.0 * dens / r
                        grad[ii, jj, kk, 0] += g * x
                        grad[ii, jj, kk, 1] += g * y
                        grad[ii, jj, kk, 2] += g * z


def superposed_1s(atoms, shape: tuple[int, int, int], cutoff: float = 4.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ρ (N1, N2, N3) bohr⁻³, ∇ρ (N1, N2, N3, 3) bohr⁻⁴ and Σ τ_W,a (N1, N2, N3) of hydrogen 1s
    atoms at the positions of ``atoms`` on the periodic grid (point (i, j, k) at (i/N1, j/N2, k/N3)
    in fractional coordinates); contributions beyond ``cutoff`` Å (e^{−2r} < 3·10⁻⁷ at 4 Å) are left out."""
    cell = np.ascontiguousarray(atoms.cell.array, dtype=np.float64)
    frac = np.ascontiguousarray(atoms.get_scaled_positions(wrap=True), dtype=np.float64)
    reach = fractional_reach(cell, cutoff)
    rho = np.zeros(shape)
    grad = np.zeros((*shape, 3))
    tau = np.zeros(shape)
    _superpose(np.asarray(shape, dtype=np.int64), cell, frac, reach, float(cutoff), rho, grad, tau)
    return rho, grad, tau
