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
cubic splines of ELF, log ρ and asinh χ). Both mesh passes go point by point (``geoelf.electronic.bloch``):
memory is the meshes' fields and per-thread K × N × N sums. Cost grows as N × (atoms within the
basis range) × mesh points, N³ for the diagonalisation.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
from dataclasses import dataclass, field

import numba
import numpy as np
from ase import Atoms
from threadpoolctl import ThreadpoolController

from geoelf.electronic.bloch import orbital_field_planes, potential_planes, superposition
from geoelf.electronic.hydrogen import BASIS_EXPONENTS, contraction, gaussian_pair_integrals, neutral_atom_potential
from geoelf.electronic.pbe import pbe
from geoelf.errors import GeoelfError
from geoelf.lattice import fractional_reach
from geoelf.units import BOHR

log = logging.getLogger(__name__)
TAU_TF = 0.3 * (3 * math.pi**2) ** (2 / 3)  # τ_TF = TAU_TF ρ^{5/3} (atomic units)
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
    # BLAS on one thread: its only work here is N × N eigenproblems, and OpenBLAS threads spin for
    # tens of milliseconds after each call, taking a core from the numba kernels that follow
    # (a 64-atom frame: 0.39 s with OpenBLAS's 2 threads, 0.30 s with 1)
    with _blas_controller().limit(limits=1, user_api="blas"):
        if _first_call[0]:
            _first_call[0] = False
            _load_kernels()
        return _one_shot(atoms, settings)


def _load_kernels() -> None:
    """Compile the kernels (or load them from numba's cache: milliseconds) on a 2-atom cell, with a
    notice if that takes long, so that no first run looks hung and a large cell's own time does not
    pass for compiling."""
    notice = threading.Timer(COMPILE_NOTICE_S, log.warning, args=(COMPILE_NOTICE,))
    notice.start()
    try:
        _one_shot(Atoms("H2", positions=[[0, 0, 0], [0.74, 0, 0]], cell=np.eye(3) * 4.5, pbc=True), None)
    finally:
        notice.cancel()


@functools.cache
def _blas_controller() -> ThreadpoolController:
    return ThreadpoolController()  # finding the loaded BLAS libraries takes milliseconds: once


COMPILE_NOTICE_S = 5.0  # loading the kernels from numba's cache takes 1–2 s; compiling them about 30
COMPILE_NOTICE = "compiling the one-shot electronic-structure kernels (once, about 30 s; cached for later runs)"
_first_call = [True]


def memory_bytes(atoms: Atoms, settings: OneShotSettings | None = None) -> int:
    """An upper bound of the one-shot's peak memory (bytes) for ``atoms``: six float64 arrays of
    K × N × N (S, T, V, F and the per-thread sums; a 2,000-atom cell: 1.5 GB) and the meshes' fields."""
    s = settings or OneShotSettings()
    repeats, fock_mesh, field_mesh, _ = computed_meshes(atoms, s)
    n = len(atoms) * math.prod(repeats)
    return 6 * 8 * math.prod(s.kmesh) * n * n + 8 * (8 * math.prod(fock_mesh) + 12 * math.prod(field_mesh))


def computed_meshes(
    atoms: Atoms, s: OneShotSettings
) -> tuple[tuple[int, int, int], tuple[int, int, int], tuple[int, int, int], tuple[int, int, int]]:
    """Where the one-shot of ``atoms`` runs: the supercell repeats, its Fock and field meshes, and the
    cell's own field mesh (the supercell's meshes are the cell's, repeated)."""
    cell = atoms.cell.array / BOHR
    repeats = supercell_repeats(cell, s.min_plane_spacing / BOHR)
    field_mesh = mesh_for(cell, s.field_spacing)
    fock = tuple(m * r for m, r in zip(mesh_for(cell, s.fock_spacing), repeats, strict=True))
    field = tuple(m * r for m, r in zip(field_mesh, repeats, strict=True))
    return repeats, fock, field, field_mesh  # type: ignore[return-value]


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
    repeats, fock_mesh, supercell_mesh, field_mesh = computed_meshes(atoms, s)
    big = atoms.repeat(repeats) if repeats != (1, 1, 1) else atoms
    fields = _in_cell(big, s, fock_mesh, supercell_mesh)
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
    translation = np.rint((pos[i] - pos[j] - d) @ np.linalg.inv(cell)).astype(np.int64)  # d = x_i − (x_j + T)
    parity = (translation & 1) @ np.array([4, 2, 1])  # the phase at {0, ½}³ depends on T's parities alone
    s_pair, t_pair = gaussian_pair_integrals(np.sum(d * d, axis=1))
    s0, t0 = gaussian_pair_integrals(np.zeros(1))
    key = parity * n * n + i * n + j
    bits = (np.arange(8)[:, None] >> np.array([2, 1, 0])) & 1  # (8, 3): each parity code's bits
    phase = np.cos(2 * math.pi * kpoints @ bits.T)  # (K, 8)
    overlap = phase @ np.bincount(key, s_pair, 8 * n * n).reshape(8, n * n)
    kinetic = phase @ np.bincount(key, t_pair, 8 * n * n).reshape(8, n * n)
    overlap, kinetic = overlap.reshape(-1, n, n), kinetic.reshape(-1, n, n)
    overlap[:, np.arange(n), np.arange(n)] += s0[0]  # each atom with itself (its images are pairs above)
    kinetic[:, np.arange(n), np.arange(n)] += t0[0]
    return overlap, kinetic


def _lattice_args(cell: np.ndarray, frac: np.ndarray, mesh: tuple[int, int, int], rc: float) -> tuple:
    return np.array(mesh, dtype=np.int64), cell, np.ascontiguousarray(frac), fractional_reach(cell, rc), float(rc)


def effective_potential(
    cell: np.ndarray, frac: np.ndarray, mesh: tuple[int, int, int], s: OneShotSettings
) -> np.ndarray:
    """v = Σ V_na + v_xc[ρ₀] (hartree) on ``mesh``, flat (P,) in C order."""
    shape, cell, frac_c, reach, _ = _lattice_args(cell, frac, mesh, s.basis_cutoff)
    points = int(np.prod(mesh))
    rho, grad, vna = np.zeros(points), np.zeros((3, points)), np.zeros(points)
    superposition(shape, cell, frac_c, reach, float(s.basis_cutoff), radial_table(s), TABLE_STEP, rho, grad, vna)
    _, v_rho, v_sigma = pbe(rho, np.sum(grad**2, axis=0))
    return vna + v_rho - 2.0 * divergence(v_sigma * grad, cell, mesh)


def radial_table(s: OneShotSettings) -> np.ndarray:
    """(M, 3): φ, dφ/dr and V_na (zero past ``potential_cutoff``) at r = m·TABLE_STEP up to ``basis_cutoff``
    (read-only: made once per pair of cutoffs)."""
    return _radial_table(s.basis_cutoff, s.potential_cutoff)


@functools.lru_cache(maxsize=8)
def _radial_table(basis_cutoff: float, potential_cutoff: float) -> np.ndarray:
    r = np.arange(0.0, basis_cutoff + 2 * TABLE_STEP, TABLE_STEP)
    g = np.exp(-np.multiply.outer(r * r, BASIS_EXPONENTS)) * contraction()
    potential = np.where(r <= potential_cutoff, neutral_atom_potential(r), 0.0)
    table = np.ascontiguousarray(
        np.stack([g.sum(1), (g * (-2.0 * np.multiply.outer(r, BASIS_EXPONENTS))).sum(1), potential], 1)
    )
    table.setflags(write=False)
    return table


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


def potential_matrices(
    cell: np.ndarray,
    frac: np.ndarray,
    mesh: tuple[int, int, int],
    v: np.ndarray,
    class_of: np.ndarray,
    signs: np.ndarray,
    rc: float,
) -> np.ndarray:
    """V^k_ab = ΔV Σ_r χ_a^k(r) v(r) χ_b^k(r) (K, N, N) hartree over the mesh (``bloch.potential_planes``)."""
    shape, cell_c, frac_c, reach, rc = _lattice_args(cell, frac, mesh, rc)
    threads = min(numba.get_num_threads(), mesh[0])
    partial = np.zeros((threads, len(signs), len(frac), len(frac)))
    table = radial_table(OneShotSettings(basis_cutoff=rc))
    phases, values = signs.astype(FOCK_DTYPE), np.ascontiguousarray(v, dtype=FOCK_DTYPE)
    potential_planes(shape, cell_c, frac_c, reach, rc, table, TABLE_STEP, class_of, phases, values, partial)
    return partial.sum(0) * abs(np.linalg.det(cell)) / np.prod(mesh)


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
    """ρ (n₀, n₁, n₂), ∇ρ (3, n₀, n₁, n₂) and τ = ½ Σ_k w_k Σ_i f_i |∇ψ_i|² of the occupied orbitals on
    ``mesh`` (``bloch.orbital_field_planes``; orbitals with occupation under 10⁻¹⁰ are left out)."""
    shape, cell_c, frac_c, reach, rc = _lattice_args(cell, frac, mesh, s.basis_cutoff)
    kept = [np.flatnonzero(f > 1e-10) for f in occupations]
    width = -(-max(len(k) for k in kept) // 8) * 8  # whole SIMD registers of 8 doubles: no scalar remainder loop
    coef = np.zeros((len(orbitals), len(frac) + 1, width))  # padded: empty orbitals of zero weight, a zero atom
    occ = np.zeros((len(orbitals), width))
    for k, (c, f, keep) in enumerate(zip(orbitals, occupations, kept, strict=True)):
        coef[k, :-1, : len(keep)] = c[:, keep]
        occ[k, : len(keep)] = weights[k] * f[keep]
    points = int(np.prod(mesh))
    rho, grad, tau = np.empty(points), np.empty((3, points)), np.empty(points)
    orbital_field_planes(
        shape, cell_c, frac_c, reach, rc, radial_table(s), TABLE_STEP, class_of, signs, coef, occ, rho, grad, tau
    )
    return rho.reshape(mesh), grad.reshape(3, *mesh), tau.reshape(mesh)
