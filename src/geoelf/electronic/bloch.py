"""The one-shot's mesh kernels: sums over (mesh point, atom image) pairs of the basis function φ, its
radial derivative and the neutral-atom potential, for any triclinic cell (``geoelf.lattice``).

Both passes over the Bloch sums χ_a^k(r) = Σ_T e^{ik·T} φ(|r − R_a − T|) work point by point and
never store χ for the mesh: a point's pairs add ±φ (the phase of the image's parity class at each
k-point) into a small local array; only the atoms whose images reach the point (its *present*
atoms) are touched and reset. From that array

- ``potential_planes`` adds v(r) χ^k χ^kᵀ into V^k for four points at a time (rows of present atoms,
  the columns vectorised), summed per mesh plane in the dtype of ``v``, then in float64 per thread;
- ``orbital_field_planes`` forms ψ_i^k = Σ_a χ_a^k C^k_ai and ∇ψ_i^k together, four atoms at a time,
  and sums ρ, ∇ρ and τ there.

Blocks of four: each vector of the accumulators is loaded and stored once per four FMAs instead of
once per FMA, so the updates run at the machine's arithmetic rate rather than its load/store rate.
Memory is the outputs and per-thread arrays of K × N (× 4) values and K × N × N sums; the work per
point is K × (present atoms) × N for the potential and 4 K × (present atoms) × (occupied orbitals)
for the fields. Lengths in bohr.
"""

from __future__ import annotations

import numba
import numpy as np

from geoelf.lattice import plane_pairs


@numba.njit(cache=True, inline="always")
def lookup(table, r, step):
    """φ, dφ/dr and V_na at r: ``table`` (M, 3) linearly interpolated at r = (m + t)·``step``; zeros past its end."""
    u = r / step
    m = int(u)
    if m + 1 >= table.shape[0]:
        return 0.0, 0.0, 0.0
    t = u - m
    lo, hi = table[m], table[m + 1]
    return lo[0] + t * (hi[0] - lo[0]), lo[1] + t * (hi[1] - lo[1]), lo[2] + t * (hi[2] - lo[2])


@numba.njit(cache=True, parallel=True)
def superposition(shape, cell, frac, reach, rc, table, step, rho, grad, vna):
    """ρ₀, ∇ρ₀ (3, P) and Σ V_na at every mesh point: each atom image within ``rc`` bohr adds φ², 2φφ'r̂
    and V_na, from ``table`` (M, 3): φ, dφ/dr and V_na at r = m·``step``."""
    plane = shape[1] * shape[2]
    for i in numba.prange(shape[0]):
        start, _, _, geo, _ = plane_pairs(i, shape, cell, frac, reach, rc, 1, rho)
        for q in range(len(start) - 1):
            p = i * plane + q
            for e in range(start[q], start[q + 1]):
                phi, dphi, v = lookup(table, geo[e, 0] * rc, step)
                rho[p] += phi * phi
                for x in range(3):
                    grad[x, p] += 2.0 * phi * dphi * geo[e, 1 + x]
                vna[p] += v


@numba.njit(cache=True, inline="always")
def _list_atom(a, seen, present, count):
    """Append atom a to the ``count`` atoms listed in ``present`` unless ``seen`` marks it; the new count."""
    if seen[a]:
        return count
    seen[a] = True
    present[count] = a
    return count + 1


BLOCK = 4  # points per update of V^k, atoms per update of the orbitals (the loops below are written out for 4)


@numba.njit(cache=True, parallel=True, fastmath=True)
def potential_planes(shape, cell, frac, reach, rc, table, step, class_of, signs, v, out):
    """V^k_ab = Σ_r v(r) χ_a^k(r) χ_b^k(r) (no volume element) into out (T, K, N, N) float64, one slice
    per thread: thread t takes the mesh planes t, t + T, … and BLOCK points at a time. ``v`` (P,) sets
    the dtype of χ and of the per-plane sums; ``signs`` (K, classes) in that dtype. A point's pairs
    add into χ atom-major (N, K), copied k-major (K, N) for the update's rows."""
    threads, kpoints, n = out.shape[0], out.shape[1], out.shape[2]
    plane = shape[1] * shape[2]
    for t in numba.prange(threads):
        gathered = np.zeros((n, kpoints), dtype=v.dtype)
        chi = np.zeros((BLOCK, kpoints, n), dtype=v.dtype)
        weight = np.zeros(BLOCK, dtype=v.dtype)
        acc = np.zeros((kpoints, n, n), dtype=v.dtype)
        seen = np.zeros(n, dtype=np.bool_)
        present = np.empty(n, dtype=np.int64)
        for i in range(t, shape[0], threads):
            start, atom, _, geo, parity = plane_pairs(i, shape, cell, frac, reach, rc, 1, v, True)
            for q0 in range(0, plane, BLOCK):
                count = 0
                for u in range(min(BLOCK, plane - q0)):  # points past the plane's end keep χ = 0, weight 0
                    q = q0 + u
                    for e in range(start[q], start[q + 1]):
                        a = atom[e]
                        count = _list_atom(a, seen, present, count)
                        c = class_of[parity[e]]
                        phi, _, _ = lookup(table, geo[e, 0] * rc, step)
                        for k in range(kpoints):
                            gathered[a, k] += signs[k, c] * phi
                    for j in range(count):  # this point's χ k-major; atoms listed by earlier points too
                        a = present[j]
                        for k in range(kpoints):
                            chi[u, k, a] = gathered[a, k]
                            gathered[a, k] = 0.0
                    weight[u] = v[i * plane + q]
                for k in range(kpoints):
                    r0, r1, r2, r3 = chi[0, k], chi[1, k], chi[2, k], chi[3, k]
                    for j in range(count):
                        a = present[j]
                        w0, w1, w2, w3 = weight[0] * r0[a], weight[1] * r1[a], weight[2] * r2[a], weight[3] * r3[a]
                        target = acc[k, a]
                        for b in range(n):
                            target[b] += w0 * r0[b] + w1 * r1[b] + w2 * r2[b] + w3 * r3[b]
                for j in range(count):
                    a = present[j]
                    seen[a] = False
                    for u in range(BLOCK):
                        for k in range(kpoints):
                            chi[u, k, a] = 0.0
                weight[:] = 0.0
            for k in range(kpoints):  # each plane's sums into float64
                for a in range(n):
                    for b in range(n):
                        out[t, k, a, b] += acc[k, a, b]
                        acc[k, a, b] = 0.0


@numba.njit(cache=True, parallel=True, fastmath=True)
def orbital_field_planes(shape, cell, frac, reach, rc, table, step, class_of, signs, coef, occ, rho, grad, tau):
    """ρ (P,), ∇ρ (3, P) and τ (P,) at every mesh point from the orbitals ψ_i^k = Σ_a C^k_ai χ_a^k:
    ``coef`` (K, N + 1, M) their coefficients, row N zero (the pad of the last block of atoms), and
    ``occ`` (K, M) their weights w_k f_ki (zero for padding); ρ = Σ occ ψ², ∇ρ = 2 Σ occ ψ∇ψ,
    τ = ½ Σ occ |∇ψ|². χ is held atom-major here (N + 1, K, 4): a pair's 4 K values lie together."""
    kpoints, n, m = coef.shape[0], coef.shape[1] - 1, coef.shape[2]
    plane = shape[1] * shape[2]
    for i in numba.prange(shape[0]):
        chi = np.zeros((n + 1, kpoints, 4))
        psi = np.empty((4, m))
        seen = np.zeros(n, dtype=np.bool_)
        present = np.empty(n + BLOCK, dtype=np.int64)
        start, atom, _, geo, parity = plane_pairs(i, shape, cell, frac, reach, rc, 1, rho, True)
        for q in range(plane):
            count = 0
            for e in range(start[q], start[q + 1]):
                a = atom[e]
                count = _list_atom(a, seen, present, count)
                c = class_of[parity[e]]
                phi, dphi, _ = lookup(table, geo[e, 0] * rc, step)
                gx, gy, gz = dphi * geo[e, 1], dphi * geo[e, 2], dphi * geo[e, 3]
                for k in range(kpoints):
                    sk = signs[k, c]
                    chi[a, k, 0] += sk * phi
                    chi[a, k, 1] += sk * gx
                    chi[a, k, 2] += sk * gy
                    chi[a, k, 3] += sk * gz
            for j in range(count, count + BLOCK):
                present[j] = n  # the zero row
            density, g0, g1, g2, kinetic = 0.0, 0.0, 0.0, 0.0, 0.0
            p0, p1, p2, p3 = psi[0], psi[1], psi[2], psi[3]
            for k in range(kpoints):
                psi[:] = 0.0
                for j in range(0, count, BLOCK):
                    a, b, c, d = present[j], present[j + 1], present[j + 2], present[j + 3]
                    ra, rb, rc_, rd = coef[k, a], coef[k, b], coef[k, c], coef[k, d]
                    xa, xb, xc, xd = chi[a, k], chi[b, k], chi[c, k], chi[d, k]
                    a0, a1, a2, a3 = xa[0], xa[1], xa[2], xa[3]
                    b0, b1, b2, b3 = xb[0], xb[1], xb[2], xb[3]
                    c0, c1, c2, c3 = xc[0], xc[1], xc[2], xc[3]
                    d0, d1, d2, d3 = xd[0], xd[1], xd[2], xd[3]
                    for s in range(m):
                        ca, cb, cc, cd = ra[s], rb[s], rc_[s], rd[s]
                        p0[s] += a0 * ca + b0 * cb + c0 * cc + d0 * cd
                        p1[s] += a1 * ca + b1 * cb + c1 * cc + d1 * cd
                        p2[s] += a2 * ca + b2 * cb + c2 * cc + d2 * cd
                        p3[s] += a3 * ca + b3 * cb + c3 * cc + d3 * cd
                for s in range(m):
                    f, value = occ[k, s], p0[s]
                    density += f * value * value
                    g0 += f * value * p1[s]
                    g1 += f * value * p2[s]
                    g2 += f * value * p3[s]
                    kinetic += f * (p1[s] * p1[s] + p2[s] * p2[s] + p3[s] * p3[s])
            p = i * plane + q
            rho[p], tau[p] = density, 0.5 * kinetic
            grad[0, p], grad[1, p], grad[2, p] = 2.0 * g0, 2.0 * g1, 2.0 * g2
            for j in range(count):
                a = present[j]
                seen[a] = False
                chi[a] = 0.0
