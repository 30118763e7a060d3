"""The one-shot Kohn–Sham fields of periodic hydrogen: superposed neutral atoms (Harris), the gth-szv
basis, the GTH-PBE pseudopotential, PBE, one diagonalisation, Fermi–Dirac occupations; then ρ, ∇ρ,
τ = ½ Σ f|∇ψ|², the ELF and χ on a real-space mesh.

The recipe, for a cell of N atoms (atomic units inside, Å at the interface):

1. ρ₀ = Σ_{a,T} φ(|r − R_a − T|)² (one electron per atom in its basis function φ), ∇ρ₀, and the
   potential v = Σ_{a,T} V_na + v_xc[ρ₀] on the Fock mesh. V_na, the pseudo-ion screened by its own
   electron, is short-ranged, so no Ewald sum is needed; v_xc = v_ρ − 2∇·(v_σ∇ρ₀), the divergence by FFT.
2. At each k-point of {0, ½}³ along the axes that ``kmesh`` doubles, the Bloch sums χ_a^k = Σ_T e^{ik·T}
   φ_{a,T} are real (the phases are ±1, by the parity of T), so everything stays real: S^k and the
   kinetic T^k analytically (Gaussian integrals over image pairs), V^k = Σ_r χ^k v χ^k ΔV on the mesh.
3. F^k C = S^k C ε with F^k = T^k + V^k; occupations 2/(1 + e^{(ε − μ)/σ}) with μ such that the cell
   holds N electrons.
4. On the field mesh: ψ = Σ_a C_a χ_a^k and its gradient, ρ = Σ_k w_k Σ_i f_i ψ², ∇ρ, τ; then
   χ = (τ − |∇ρ|²/8ρ)/τ_TF and ELF = 1/(1 + χ²).

The meshes are set by spacing: the potential's matrix elements need about 0.3 bohr (the tight exponent
8.37 bohr⁻² and r_loc = 0.2 bohr), the fields about 0.4 bohr (interpolated to finer grids by periodic
cubic splines of ELF, log ρ and asinh χ). Memory is bounded by doing both mesh passes in slabs of
planes. Cost grows as N² × mesh points (the dense Bloch sums), N³ for the diagonalisation.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, field

import numba
import numpy as np
from ase import Atoms

from geoelf.electronic.hydrogen import BASIS_EXPONENTS, contraction, gaussian_pair_integrals, neutral_atom_potential
from geoelf.electronic.pbe import pbe
from geoelf.errors import GeoelfError
from geoelf.lattice import fractional_reach, plane_pairs
from geoelf.units import BOHR

log = logging.getLogger(__name__)
TAU_TF = 0.3 * (3 * math.pi**2) ** (2 / 3)  # τ_TF = TAU_TF ρ^{5/3} (atomic units)
SLAB_BYTES = 64 * 2**20  # the Bloch sums of one slab of mesh planes
# the potential's matrix elements from float32 Bloch sums (the ELF moves by 2e-6); the orbitals' fields in
# float64, where τ − τ_W cancels in the density's tails (float32 there: ELF errors up to 5e-4)
FOCK_DTYPE = np.float32
TABLE_STEP = 2e-3  # bohr: φ, dφ/dr and V_na tabulated, linear in between (relative error about 1e-6)


@dataclass(frozen=True)
class OneShotSettings:
    """Settings of the one-shot calculation.

    kmesh: per axis 1 (Γ) or 2 (k ∈ {0, ½} along that reciprocal vector);
    fock_spacing, field_spacing: the meshes' largest spacing (bohr) for the potential and its matrix
    elements, and for ρ, ∇ρ, τ, ELF; smearing: Fermi–Dirac width (hartree); basis_cutoff and
    potential_cutoff (bohr): where φ (below 2·10⁻⁴ of its peak: the ELF moves by 10⁻⁴ on average against
    8.5 bohr) and V_na (below 10⁻⁷ hartree) are cut; min_plane_spacing (Å): a cell whose lattice planes
    lie closer is computed in a supercell that reaches it, so the k-points sample every cell as finely
    as a 64-atom fluid cell at rs 1.25 bohr (planes 4.27 Å apart) — a 4-atom crystal at 2×2×2 alone
    would be sampled 2–3 times more coarsely.
    """

    kmesh: tuple[int, int, int] = (2, 2, 2)
    fock_spacing: float = 0.30
    field_spacing: float = 0.40
    smearing: float = 0.01
    basis_cutoff: float = 6.5
    potential_cutoff: float = 6.0
    min_plane_spacing: float = 4.2

    def __post_init__(self) -> None:
        if len(self.kmesh) != 3 or any(k not in (1, 2) for k in self.kmesh):
            raise GeoelfError(f"k-mesh must be three of 1 or 2 (k in {{0, 1/2}}), not {self.kmesh}")
        if min(self.fock_spacing, self.field_spacing, self.smearing) <= 0:
            raise GeoelfError("mesh spacings and smearing must be positive")


@dataclass
class ElectronicFields:
    """The one-shot fields on a mesh of the cell, point (i, j, k) at fractional (i/n₀, j/n₁, k/n₂):
    rho (n₀, n₁, n₂) bohr⁻³, grad (3, n₀, n₁, n₂) bohr⁻⁴, tau hartree bohr⁻³, elf, chi; with the
    cell (Å), the k-points (fractional), the band energies (hartree) per k-point, their occupations,
    the Fermi level μ (hartree) and the electrons the mesh integrates to."""

    rho: np.ndarray
    grad: np.ndarray
    tau: np.ndarray
    elf: np.ndarray
    chi: np.ndarray
    cell: np.ndarray
    kpoints: np.ndarray
    energies: list[np.ndarray] = field(default_factory=list)
    occupations: list[np.ndarray] = field(default_factory=list)
    fermi_level: float = 0.0
    electrons: float = 0.0

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.rho.shape

    def at_fractional(self, frac: np.ndarray) -> dict[str, np.ndarray]:
        """ELF, ρ and χ (P,) at fractional points (P, 3), by periodic cubic splines of ELF, log ρ and
        asinh χ (smooth where ρ and χ span decades)."""
        from scipy.ndimage import map_coordinates

        x = (np.asarray(frac, dtype=float) % 1.0 * np.array(self.shape)).T

        def spline(f: np.ndarray) -> np.ndarray:
            return map_coordinates(f, x, order=3, mode="grid-wrap")

        return {
            "elf": np.clip(spline(self.elf), 0.0, 1.0),
            "rho": np.exp(spline(np.log(np.maximum(self.rho, 1e-12)))),
            "chi": np.sinh(spline(np.arcsinh(self.chi))),
        }

    def on_grid(self, shape: tuple[int, int, int]) -> dict[str, np.ndarray]:
        """ELF, ρ and χ (n₀, n₁, n₂) on another grid of the same cell (see ``at_fractional``)."""
        axes = [np.arange(n) / n for n in shape]
        frac = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
        return {k: v.reshape(shape) for k, v in self.at_fractional(frac).items()}


def mesh_for(cell_bohr: np.ndarray, spacing: float) -> tuple[int, int, int]:
    """The smallest mesh whose spacing along each lattice vector is at most ``spacing`` bohr."""
    return tuple(max(2, math.ceil(float(n) / spacing - 1e-9)) for n in np.linalg.norm(cell_bohr, axis=1))  # type: ignore[return-value]


def elf_and_chi(rho: np.ndarray, grad2: np.ndarray, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ELF = 1/(1 + χ²) and χ = (τ − |∇ρ|²/8ρ)/(TAU_TF ρ^{5/3}) from ρ, |∇ρ|² and τ (atomic units)."""
    rho = np.maximum(rho, 1e-12)
    chi = (tau - grad2 / (8.0 * rho)) / (TAU_TF * rho ** (5 / 3))
    return 1.0 / (1.0 + chi**2), chi


def one_shot(atoms: Atoms, settings: OneShotSettings | None = None) -> ElectronicFields:
    """The one-shot Kohn–Sham fields of a periodic hydrogen structure (any triclinic cell, cells
    smaller than the basis range included) on the field mesh of ``settings``."""
    if _first_call[0]:  # the kernels compile (or load numba's cache) on the first call: say so if it is slow
        _first_call[0] = False
        notice = threading.Timer(COMPILE_NOTICE_S, log.warning, args=(COMPILE_NOTICE,))
        notice.start()
        try:
            return _one_shot(atoms, settings)
        finally:
            notice.cancel()
    return _one_shot(atoms, settings)


COMPILE_NOTICE_S = 2.0
COMPILE_NOTICE = "compiling the one-shot electronic-structure kernels (once, about 30 s; cached for later runs)"
_first_call = [True]


def supercell_repeats(cell_bohr: np.ndarray, min_length: float) -> tuple[int, int, int]:
    """How often to repeat the cell along each lattice vector so that its lattice planes lie at least
    ``min_length`` bohr apart: a sphere of that radius reaches ``fractional_reach`` cells along each."""
    return tuple(max(1, math.ceil(float(f) - 1e-9)) for f in fractional_reach(cell_bohr, min_length))  # type: ignore[return-value]


def _one_shot(atoms: Atoms, settings: OneShotSettings | None) -> ElectronicFields:
    """The one-shot of ``atoms``, done in its supercell of ``supercell_repeats`` when the cell is thin,
    then folded back: the fields are periodic with the cell, so its first block of the supercell's
    mesh is the cell's mesh (the supercell's meshes are the cell's, repeated)."""
    s = settings or OneShotSettings()
    if set(atoms.numbers.tolist()) != {1} or not atoms.pbc.all():
        raise GeoelfError("the one-shot fields are for periodic hydrogen structures")
    cell = atoms.cell.array / BOHR
    repeats = supercell_repeats(cell, s.min_plane_spacing / BOHR)
    fock_mesh = tuple(m * r for m, r in zip(mesh_for(cell, s.fock_spacing), repeats, strict=True))
    field_mesh = mesh_for(cell, s.field_spacing)
    big = atoms.repeat(repeats) if repeats != (1, 1, 1) else atoms
    sc = tuple(m * r for m, r in zip(field_mesh, repeats, strict=True))
    fields = _in_cell(big, s, fock_mesh, sc)  # type: ignore[arg-type]
    if big is atoms:
        return fields
    block = tuple(slice(0, m) for m in field_mesh)
    rho, grad, tau = fields.rho[block], fields.grad[(slice(None), *block)], fields.tau[block]
    return ElectronicFields(
        rho,
        grad,
        tau,
        fields.elf[block],
        fields.chi[block],
        atoms.cell.array.copy(),
        fields.kpoints,
        fields.energies,
        fields.occupations,
        fields.fermi_level,
        fields.electrons / math.prod(repeats),
    )


def _in_cell(
    atoms: Atoms, s: OneShotSettings, fock_mesh: tuple[int, int, int], field_mesh: tuple[int, int, int]
) -> ElectronicFields:
    """The one-shot fields of ``atoms`` in its own cell, on the meshes given."""
    cell = np.ascontiguousarray(atoms.cell.array / BOHR, dtype=np.float64)
    frac = atoms.get_scaled_positions(wrap=True)
    kpoints, class_of, signs = bloch_phases(s.kmesh)
    weights = np.full(len(kpoints), 1.0 / len(kpoints))
    v = effective_potential(cell, frac, fock_mesh, s)
    overlap, kinetic = bloch_overlap_kinetic(cell, frac, kpoints, 2 * s.basis_cutoff)
    potential = potential_matrices(cell, frac, fock_mesh, v, class_of, signs, s.basis_cutoff)
    energies, orbitals = [], []
    for k in range(len(kpoints)):
        eps, c = _generalised_eigh(kinetic[k] + potential[k], overlap[k])
        energies.append(eps)
        orbitals.append(c)
    mu, occupations = fermi_occupations(energies, weights, float(len(atoms)), s.smearing)
    rho, grad, tau = orbital_fields(cell, frac, field_mesh, orbitals, occupations, weights, class_of, signs, s)
    elf, chi = elf_and_chi(rho, np.sum(grad**2, axis=0), tau)
    electrons = float(rho.sum() * abs(np.linalg.det(cell)) / rho.size)
    return ElectronicFields(
        rho, grad, tau, elf, chi, atoms.cell.array.copy(), kpoints, energies, occupations, mu, electrons
    )


def bloch_phases(kmesh: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The k-points (K, 3) (fractional, each component 0 or ½ along the axes ``kmesh`` doubles), the
    class of each image parity code (8,) (``plane_pairs``: 4·(m₀ mod 2) + 2·(m₁ mod 2) + m₂ mod 2),
    and the phase e^{ik·T} = ±1 of each class at each k-point (K, classes)."""
    doubled = [axis for axis in range(3) if kmesh[axis] == 2]
    kpoints = np.zeros((2 ** len(doubled), 3))
    for n in range(len(kpoints)):
        for b, axis in enumerate(doubled):
            kpoints[n, axis] = 0.5 * ((n >> b) & 1)
    class_of = np.zeros(8, dtype=np.int64)
    for code in range(8):
        bits = [(code >> (2 - axis)) & 1 for axis in range(3)]
        class_of[code] = sum(bits[axis] << b for b, axis in enumerate(doubled))
    signs = np.ones((len(kpoints), 2 ** len(doubled)))
    for c in range(signs.shape[1]):
        parity = np.zeros(3)
        for b, axis in enumerate(doubled):
            parity[axis] = (c >> b) & 1
        signs[:, c] = np.cos(2 * math.pi * kpoints @ parity)
    return kpoints, class_of, signs


def _generalised_eigh(f: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenpairs of F C = S C ε (F symmetrised: the mesh sum is symmetric up to rounding)."""
    from scipy.linalg import eigh

    return eigh(0.5 * (f + f.T), s)


def fermi_occupations(
    energies: list[np.ndarray], weights: np.ndarray, electrons: float, width: float
) -> tuple[float, list[np.ndarray]]:
    """The Fermi level μ (hartree) at which Σ_k w_k Σ_i 2/(1 + e^{(ε_ki − μ)/width}) = ``electrons``
    (bisection), and the occupations (0–2) per k-point."""
    every = np.concatenate(energies)
    w = np.concatenate([np.full(len(e), wk) for e, wk in zip(energies, weights, strict=True)])

    def occupation(e: np.ndarray, mu: float) -> np.ndarray:
        return 2.0 / (1.0 + np.exp(np.clip((e - mu) / width, -200.0, 200.0)))

    lo, hi = float(every.min()) - 1.0, float(every.max()) + 1.0
    for _ in range(200):
        mu = 0.5 * (lo + hi)
        if float(np.sum(w * occupation(every, mu))) > electrons:
            hi = mu
        else:
            lo = mu
    return mu, [occupation(e, mu) for e in energies]


def bloch_overlap_kinetic(
    cell: np.ndarray, frac: np.ndarray, kpoints: np.ndarray, cutoff: float
) -> tuple[np.ndarray, np.ndarray]:
    """S^k and T^k (K, N, N), analytic: Σ over image pairs closer than ``cutoff`` bohr of the phase
    e^{ik·T} (±1) times the Gaussian overlap and kinetic integrals."""
    from geoelf.neighbours import neighbour_pairs

    pos = frac @ cell
    n = len(pos)
    i, j, d = neighbour_pairs(pos, pos, cell, cutoff, exclude_self=True)
    translation = np.rint((pos[i] - pos[j] - d) @ np.linalg.inv(cell))  # d = x_i − (x_j + T)
    phase = np.cos(2 * math.pi * translation @ kpoints.T)  # (E, K)
    s_pair, t_pair = gaussian_pair_integrals(np.sum(d * d, axis=1))
    s0, t0 = gaussian_pair_integrals(np.zeros(1))
    pair = i * n + j
    overlap = np.stack([np.bincount(pair, phase[:, k] * s_pair, n * n).reshape(n, n) for k in range(len(kpoints))])
    kinetic = np.stack([np.bincount(pair, phase[:, k] * t_pair, n * n).reshape(n, n) for k in range(len(kpoints))])
    overlap[:, np.arange(n), np.arange(n)] += s0[0]  # each atom with itself (its images are pairs above)
    kinetic[:, np.arange(n), np.arange(n)] += t0[0]
    return overlap, kinetic


@numba.njit(cache=True, parallel=True)
def _superposition(shape, cell, frac, reach, rc, table, step, rho, grad, vna):
    """ρ₀, ∇ρ₀ (3, P) and Σ V_na at every mesh point: each atom image within ``rc`` bohr adds φ², 2φφ'r̂
    and V_na, from ``table`` (M, 3): φ, dφ/dr and V_na at r = m·``step``."""
    plane = shape[1] * shape[2]
    for i in numba.prange(shape[0]):
        start, _, _, geo, _ = plane_pairs(i, shape, cell, frac, reach, rc, 1, rho)
        for q in range(len(start) - 1):
            p = i * plane + q
            for e in range(start[q], start[q + 1]):
                phi, dphi, v = _lookup(table, geo[e, 0] * rc, step)
                rho[p] += phi * phi
                for x in range(3):
                    grad[x, p] += 2.0 * phi * dphi * geo[e, 1 + x]
                vna[p] += v


@numba.njit(cache=True, inline="always")
def _lookup(table, r, step):
    """φ, dφ/dr and V_na at r: ``table`` (M, 3) linearly interpolated at r = (m + t)·``step``; zeros past its end."""
    u = r / step
    m = int(u)
    if m + 1 >= table.shape[0]:
        return 0.0, 0.0, 0.0
    t = u - m
    lo, hi = table[m], table[m + 1]
    return lo[0] + t * (hi[0] - lo[0]), lo[1] + t * (hi[1] - lo[1]), lo[2] + t * (hi[2] - lo[2])


@numba.njit(cache=True, parallel=True)
def _bloch_sums(i0, i1, shape, cell, frac, reach, rc, table, step, class_of, values, gradients):
    """Per image class c, mesh point p of planes i0 ≤ i < i1 and atom a: Σ φ over the atom's images of
    that class, values (C, P, N), and with a non-empty ``gradients`` (C, P, 3, N) Σ ∇φ. Atoms last, so
    a point's pairs write near each other and ``signs @ values`` makes every k-point's Bloch sums at once."""
    plane = shape[1] * shape[2]
    with_gradients = gradients.size > 0
    for i in numba.prange(i0, i1):
        start, atom, _, geo, parity = plane_pairs(i, shape, cell, frac, reach, rc, 1, values, True)
        for q in range(len(start) - 1):
            p = (i - i0) * plane + q
            for e in range(start[q], start[q + 1]):
                c, a = class_of[parity[e]], atom[e]
                phi, dphi, _ = _lookup(table, geo[e, 0] * rc, step)
                values[c, p, a] += phi
                if with_gradients:
                    for x in range(3):
                        gradients[c, p, x, a] += dphi * geo[e, 1 + x]


def _lattice_args(cell: np.ndarray, frac: np.ndarray, mesh: tuple[int, int, int], rc: float) -> tuple:
    return np.array(mesh, dtype=np.int64), cell, np.ascontiguousarray(frac), fractional_reach(cell, rc), float(rc)


def effective_potential(
    cell: np.ndarray, frac: np.ndarray, mesh: tuple[int, int, int], s: OneShotSettings
) -> np.ndarray:
    """v = Σ V_na + v_xc[ρ₀] (hartree) on ``mesh``, flat (P,) in C order."""
    shape, cell, frac_c, reach, _ = _lattice_args(cell, frac, mesh, s.basis_cutoff)
    points = int(np.prod(mesh))
    rho, grad, vna = np.zeros(points), np.zeros((3, points)), np.zeros(points)
    _superposition(shape, cell, frac_c, reach, float(s.basis_cutoff), radial_table(s), TABLE_STEP, rho, grad, vna)
    _, v_rho, v_sigma = pbe(rho, np.sum(grad**2, axis=0))
    return vna + v_rho - 2.0 * divergence(v_sigma * grad, cell, mesh)


def radial_table(s: OneShotSettings) -> np.ndarray:
    """(M, 3): φ, dφ/dr and V_na (zero past ``potential_cutoff``) at r = m·TABLE_STEP up to ``basis_cutoff``."""
    r = np.arange(0.0, s.basis_cutoff + 2 * TABLE_STEP, TABLE_STEP)
    g = np.exp(-np.multiply.outer(r * r, BASIS_EXPONENTS)) * contraction()
    potential = np.where(r <= s.potential_cutoff, neutral_atom_potential(r), 0.0)
    return np.ascontiguousarray(
        np.stack([g.sum(1), (g * (-2.0 * np.multiply.outer(r, BASIS_EXPONENTS))).sum(1), potential], 1)
    )


def divergence(w: np.ndarray, cell: np.ndarray, mesh: tuple[int, int, int]) -> np.ndarray:
    """∇·w (P,) of a periodic vector field w (3, P) (Cartesian components, bohr) on ``mesh``, by FFT."""
    g = wave_vectors(cell, mesh)
    total = np.zeros(mesh, dtype=complex)
    for x in range(3):
        total += 1j * g[..., x] * np.fft.fftn(w[x].reshape(mesh))
    return np.fft.ifftn(total).real.ravel()


def wave_vectors(cell: np.ndarray, mesh: tuple[int, int, int]) -> np.ndarray:
    """Cartesian wave vectors (n₀, n₁, n₂, 3) of the FFT of a periodic mesh of ``cell`` (in the inverse
    of the cell's length unit); the Nyquist components of even meshes are zero, so derivatives stay real."""
    freqs = []
    for n in mesh:
        f = np.fft.fftfreq(n, 1.0 / n)
        if n % 2 == 0:
            f[n // 2] = 0.0
        freqs.append(f)
    m = np.stack(np.meshgrid(*freqs, indexing="ij"), -1)  # integer frequencies
    return m @ (2 * math.pi * np.linalg.inv(cell).T)


def _slab_planes(mesh: tuple[int, int, int], floats_per_point: int) -> int:
    return max(1, SLAB_BYTES // (8 * floats_per_point * mesh[1] * mesh[2]))


def potential_matrices(
    cell: np.ndarray,
    frac: np.ndarray,
    mesh: tuple[int, int, int],
    v: np.ndarray,
    class_of: np.ndarray,
    signs: np.ndarray,
    rc: float,
) -> np.ndarray:
    """V^k_ab = ΔV Σ_r χ_a^k(r) v(r) χ_b^k(r) (K, N, N) hartree over the mesh, in slabs of planes."""
    shape, cell_c, frac_c, reach, rc = _lattice_args(cell, frac, mesh, rc)
    n, classes, plane = len(frac), signs.shape[1], mesh[1] * mesh[2]
    out = np.zeros((len(signs), n, n))
    phases = signs.astype(FOCK_DTYPE)
    step = _slab_planes(mesh, classes * n)
    table = radial_table(OneShotSettings(basis_cutoff=rc))
    for i0 in range(0, mesh[0], step):
        i1 = min(mesh[0], i0 + step)
        values = np.zeros((classes, (i1 - i0) * plane, n), FOCK_DTYPE)
        _bloch_sums(
            i0,
            i1,
            shape,
            cell_c,
            frac_c,
            reach,
            rc,
            table,
            TABLE_STEP,
            class_of,
            values,
            np.zeros((0, 0, 0, 0), FOCK_DTYPE),
        )
        chi = (phases @ values.reshape(classes, -1)).reshape(len(signs), -1, n)  # (K, P, N): Bloch sums at each k
        vs = v[i0 * plane : i1 * plane, None].astype(FOCK_DTYPE)
        for k in range(len(signs)):
            out[k] += chi[k].T @ (chi[k] * vs)
    return out * abs(np.linalg.det(cell)) / np.prod(mesh)


def orbital_fields(
    cell: np.ndarray,
    frac: np.ndarray,
    mesh: tuple[int, int, int],
    orbitals: list[np.ndarray],
    occupations: list[np.ndarray],
    weights: np.ndarray,
    class_of: np.ndarray,
    signs: np.ndarray,
    s: OneShotSettings,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ρ (n₀, n₁, n₂), ∇ρ (3, n₀, n₁, n₂) and τ = ½ Σ_k w_k Σ_i f_i |∇ψ_i|² of the occupied orbitals on ``mesh``."""
    shape, cell_c, frac_c, reach, rc = _lattice_args(cell, frac, mesh, s.basis_cutoff)
    n, classes, plane, points = len(frac), signs.shape[1], mesh[1] * mesh[2], int(np.prod(mesh))
    rho, grad, tau = np.zeros(points), np.zeros((3, points)), np.zeros(points)
    kept = [f > 1e-10 for f in occupations]  # empty orbitals add nothing
    coef = [c[:, keep] for c, keep in zip(orbitals, kept, strict=True)]
    occ = [w * f[keep] for w, f, keep in zip(weights, occupations, kept, strict=True)]
    step = _slab_planes(mesh, 4 * classes * n)
    table = radial_table(s)
    for i0 in range(0, mesh[0], step):
        i1 = min(mesh[0], i0 + step)
        part = slice(i0 * plane, i1 * plane)
        values = np.zeros((classes, (i1 - i0) * plane, n))
        gradients = np.zeros((classes, (i1 - i0) * plane, 3, n))
        _bloch_sums(i0, i1, shape, cell_c, frac_c, reach, rc, table, TABLE_STEP, class_of, values, gradients)
        chi = (signs @ values.reshape(classes, -1)).reshape(len(signs), -1, n)  # (K, P, N)
        dchi = (signs @ gradients.reshape(classes, -1)).reshape(len(signs), -1, 3, n)  # (K, P, 3, N)
        for k in range(len(signs)):
            psi = chi[k] @ coef[k]  # (P, occupied)
            rho[part] += (psi * psi) @ occ[k]
            for x in range(3):
                dpsi = dchi[k, :, x] @ coef[k]
                grad[x, part] += 2.0 * (psi * dpsi) @ occ[k]
                tau[part] += 0.5 * (dpsi * dpsi) @ occ[k]
    return rho.reshape(mesh), grad.reshape(3, *mesh), tau.reshape(mesh)
