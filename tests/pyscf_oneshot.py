"""The one-shot calculation done by PySCF: the test oracle of ``geoelf.electronic``.

PySCF builds the same Harris Fock matrix from its own integrals, J and XC on its own fine mesh: the
superposed density Σ_{a,T} φ_{a,T}² is the density matrix D^k = 1 on a 4×4×4 k-mesh (the cross terms
between an atom's images then lie four cells apart, below 10⁻⁶), its Fock matrix is taken at the
k-points of {0, ½}³ the k-mesh asks for, diagonalised with PySCF's overlap, occupied with the same
Fermi–Dirac smearing, and the orbitals' ρ, ∇ρ and τ evaluated with PySCF's basis functions.
"""

from __future__ import annotations

import numpy as np

from geoelf.electronic.oneshot import elf_and_chi, fermi_occupations

DENSITY_KMESH = (4, 4, 4)


def pyscf_one_shot(atoms, kmeshes, points_angstrom, smearing=0.01, spacing_bohr=0.12):
    """{kmesh: ELF (P,)} at Cartesian points (P, 3) Å from PySCF's one-shot (see the module docstring),
    for each k-mesh of ``kmeshes`` (one Fock build serves them all)."""
    from pyscf.pbc import dft, gto

    cell = gto.Cell()
    cell.atom = [("H", tuple(p)) for p in atoms.positions]
    cell.a = atoms.cell.array
    cell.unit = "A"
    cell.basis, cell.pseudo = "gth-szv", "gth-pbe"
    cell.precision, cell.verbose = 1e-10, 0
    lengths = np.linalg.norm(atoms.cell.array, axis=1) / 0.529177210903
    cell.mesh = [int(np.ceil(n / spacing_bohr)) | 1 for n in lengths]
    cell.build()
    kpts = cell.make_kpts(DENSITY_KMESH)
    mf = dft.KRKS(cell, kpts)
    mf.xc = "pbe"
    nao = cell.nao
    dm = np.repeat(np.eye(nao)[None], len(kpts), axis=0).astype(complex)
    fock = np.asarray(mf.get_hcore()) + np.asarray(mf.get_veff(cell, dm))
    overlap = np.asarray(mf.get_ovlp())
    frac = np.round(cell.get_scaled_kpts(kpts) % 1.0, 6)
    coords = np.asarray(points_angstrom) / 0.529177210903
    return {tuple(m): _elf(cell, kpts, frac, fock, overlap, m, len(atoms), smearing, coords) for m in kmeshes}


def _elf(cell, kpts, frac, fock, overlap, kmesh, electrons, smearing, coords):
    from pyscf.pbc.dft.numint import eval_ao_kpts

    wanted = [np.array([a, b, c]) for a in _axis(kmesh[0]) for b in _axis(kmesh[1]) for c in _axis(kmesh[2])]
    index = [int(np.flatnonzero(np.all(np.abs(frac - w) < 1e-6, axis=1))[0]) for w in wanted]
    energies, orbitals = [], []
    for k in index:
        e, c = _eigh(fock[k], overlap[k])
        energies.append(e)
        orbitals.append(c)
    weights = np.full(len(index), 1.0 / len(index))
    _, occupations = fermi_occupations(energies, weights, float(electrons), smearing)
    ao = eval_ao_kpts(cell, coords, kpts=kpts[index], deriv=1)
    rho = np.zeros(len(coords))
    grad = np.zeros((3, len(coords)))
    tau = np.zeros(len(coords))
    for n, k in enumerate(index):
        psi = np.einsum("xgm,mi->xgi", ao[n], orbitals[n])
        f = weights[n] * occupations[n]
        rho += (np.abs(psi[0]) ** 2) @ f
        for x in range(3):
            grad[x] += 2 * (psi[0].conj() * psi[1 + x]).real @ f
            tau += 0.5 * (np.abs(psi[1 + x]) ** 2) @ f
    return elf_and_chi(rho, np.sum(grad**2, axis=0), tau)[0]


def _axis(n):
    return (0.0,) if n == 1 else (0.0, 0.5)


def _eigh(f, s):
    from scipy.linalg import eigh

    return eigh(0.5 * (f + f.conj().T), s)
