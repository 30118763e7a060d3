"""ProbeNet: ELF at probe points from atomic positions (PyTorch).

Atoms carry invariant features refined by SchNet-style continuous-filter interactions
(cutoff ``cutoff_atom``). Each probe point then gathers messages from the atoms within
``cutoff_probe``: scalar channels  s_p = Σ_a f(r_pa) ⊙ h_a  and vector channels
v_p = Σ_a g(r_pa) ⊙ h_a ⊗ r̂_pa, whose squared norms |v_p|² (per channel) carry angular
information about where the neighbours sit (at an H–H bond midpoint the vectors cancel) while
staying exactly rotation invariant. An MLP on [s_p, |v_p|²] and a sigmoid give the ELF in [0, 1].
With ``atom_vector_features`` set, each atom also carries C vectors μ_a = Σ_b φ(r_ab) ⊙ h_b ⊗ r̂_ab
(for a molecule: its bond axis), which probes gather as m_p = Σ_a g(r_pa) ⊙ μ_a and read through
|m_p|², m_p · v_p and m_pᵀ T_p m_p: whether the probe lies along or across the bonds of the
molecules around it, which the probe's own channels only see for atoms inside its cutoff. With
``atom_tensor_features`` set, atoms also carry traceless rank-2 tensors Q_a = Σ_b φ(r_ab) ⊙ h_b ⊗
(r̂r̂ᵀ − I/3), a bond axis without its sign, gathered as Q_p and read through |Q_p|², tr(Q_p T_p)
and v_pᵀ Q_p v_p.
With ``atom_angular_features`` set, every atom interaction layer also reads three-body angular
invariants of the atom's neighbourhood (``AngularInteraction``); this works on the atom graph only.
With ``l3_features`` / ``l4_features`` set, probes also gather channels of angular order 3 and 4,
A_p = Σ_a w(r_pa) ⊙ h_a Y_l(r̂_pa) (real spherical harmonics), read through their power spectra
Σ_m |A_lm|² = Σ_ab w_a w_b P_l(cos θ_ab): finer angular resolution of the atoms around a probe.
With ``long_range_sigmas`` set, the MLP also reads long-range channels L_c(p): periodic sums of
broad Gaussians around every atom weighted by learned atomic charges (``longrange.py``), which
let each probe see the whole cell at low resolution.
Probes receive messages but never send them (DeepDFT's design), so the cost is linear in probes.

Invariance: only distances, unit vectors summed into norms, and sums over atoms enter, so the
output is exactly invariant under rotations, lattice translations and atom permutations.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import cast

import torch
from torch import nn

# Settings that packages written by geoelf 0.1 may carry, at their neutral value only: they were
# architecture options of trial models that never shipped, and are accepted (and ignored) when off.
RETIRED_OPTIONS: dict[str, object] = {
    "vector_gram": False,
    "atom_features": 0,
    "atom_norm": False,
    "probe_cubic": False,
}


@dataclass
class NetConfig:
    """Architecture settings (stored in a model package's config.json)."""

    species: list[int] = field(default_factory=lambda: [1])
    features: int = 48
    vector_features: int = 16
    rbf: int = 16
    layers: int = 3
    cutoff_atom: float = 3.5  # Å
    cutoff_probe: float = 2.4  # Å
    hidden: int = 64
    long_range_sigmas: list[float] = field(default_factory=list)  # Å; empty: local model only
    long_range_channels: int = 2  # learned charges per width
    # > 0: that many rank-2 (l = 2) channels T_p = Σ_a t(r_pa) ⊙ h_a (r̂ r̂ᵀ − I/3), read through their
    # squared Frobenius norms Σ_ab w_a w_b (cos²θ_ab − 1/3): they tell "between two atoms on a line"
    # (where the vector channels cancel) from "beside one atom", the anisotropy of a bond's ELF
    tensor_features: int = 0
    # > 0: that many atom vector channels μ_a (orientation of each atom's bonds), gathered at
    # probes as m_p and read through |m_p|², m_p · v_p and m_pᵀ T_p m_p (needs ≤ vector_features)
    atom_vector_features: int = 0
    # > 0: that many traceless atom tensor channels Q_a, gathered at probes as Q_p and read through
    # |Q_p|², tr(Q_p T_p) and v_pᵀ Q_p v_p (the headless bond axis: symmetric across a molecule)
    atom_tensor_features: int = 0
    # > 0: each interaction layer also reads, per atom, the squared norms of that many vector and
    # traceless rank-2 sums over its neighbours (three-body terms: how its neighbours sit around it)
    atom_angular_features: int = 0
    # > 0: that many probe channels of each higher angular order l = 3 and l = 4,
    # A_p^l = Σ_a w(r_pa) ⊙ h_a Y_l(r̂_pa) (real spherical harmonics), read through their power
    # spectra Σ_m |A_lm|² = Σ_ab w_a w_b P_l(cos θ_ab): the finer angular arrangement of the atoms
    # around an interstitial probe, which l ≤ 2 resolves only coarsely
    l3_features: int = 0
    l4_features: int = 0
    # > 0 (15): the head also reads the one-shot Kohn–Sham channels at each probe
    # (``geoelf.electronic.features``), standardised with the training set's mean and spread
    electronic_channels: int = 0
    # Å: the one-shot of a cell whose lattice planes lie closer than this runs in the supercell that
    # reaches it (``OneShotSettings.min_plane_spacing``), so its k-points sample it as finely as the
    # densest training cell; None: the one-shot's default, which earlier packages were trained with
    electronic_plane_spacing: float | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def cosine_cutoff(r: torch.Tensor, rc: float) -> torch.Tensor:
    """Smooth envelope: 1 at r = 0, 0 with zero slope at r = rc."""
    return 0.5 * (torch.cos(math.pi * r / rc) + 1.0) * (r < rc)


class RadialBasis(nn.Module):
    """Gaussians on [0, rc] times the cosine cutoff, shape (E, K)."""

    centres: torch.Tensor

    def __init__(self, n: int, rc: float) -> None:
        super().__init__()
        self.rc = rc
        self.register_buffer("centres", torch.linspace(0.0, rc, n))
        self.width = rc / n

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        g = torch.exp(-0.5 * ((r[:, None] - self.centres[None, :]) / self.width) ** 2)
        return g * cosine_cutoff(r, self.rc)[:, None]


class Interaction(nn.Module):
    """h_i += MLP(Σ_j W(rbf(r_ij)) ⊙ lin(h_j)) — SchNet's continuous-filter convolution.
    ``extra``: the width of further per-atom inputs a subclass appends to the sum."""

    def __init__(self, f: int, k: int, extra: int = 0) -> None:
        super().__init__()
        self.filter = nn.Sequential(nn.Linear(k, f), nn.SiLU(), nn.Linear(f, f))
        self.lin = nn.Linear(f, f, bias=False)
        self.out = nn.Sequential(nn.Linear(f + extra, f), nn.SiLU(), nn.Linear(f, f))

    def aggregate(self, h: torch.Tensor, i: torch.Tensor, j: torch.Tensor, rbf: torch.Tensor) -> torch.Tensor:
        """The continuous-filter sum Σ_j W(rbf(r_ij)) ⊙ lin(h_j), shape (N, F)."""
        return torch.zeros_like(h).index_add_(0, i, self.filter(rbf) * self.lin(h)[j])

    def forward(
        self, h: torch.Tensor, i: torch.Tensor, j: torch.Tensor, rbf: torch.Tensor, unit: torch.Tensor
    ) -> torch.Tensor:
        """``unit`` (E, 3): the pairs' unit vectors, which only ``AngularInteraction`` reads."""
        return h + self.out(self.aggregate(h, i, j, rbf))


class AngularInteraction(Interaction):
    """``Interaction`` whose update also reads each atom's angular invariants: with A channels,
    μ_i = Σ_j w(r_ij) ⊙ g(h_j) r̂_ij and Q_i = Σ_j w'(r_ij) ⊙ g'(h_j) r̂r̂ᵀ, through |μ_i|² and the squared norm of
    Q_i's traceless part, i.e. Σ_jk w_j w_k P_l(cos θ_jik) for l = 1, 2. Radial sums alone cannot tell
    an atom with one near neighbour on each side from one with both on the same side."""

    def __init__(self, f: int, k: int, a: int) -> None:
        super().__init__(f, k, extra=2 * a)
        self.a = a
        self.angular_filter = nn.Linear(k, 2 * a, bias=False)
        self.angular_lin = nn.Linear(f, 2 * a, bias=False)

    def forward(
        self, h: torch.Tensor, i: torch.Tensor, j: torch.Tensor, rbf: torch.Tensor, unit: torch.Tensor
    ) -> torch.Tensor:
        w = self.angular_filter(rbf) * self.angular_lin(h)[j]  # (E, 2A)
        n, a = h.shape[0], self.a
        mu = h.new_zeros(n, a, 3).index_add_(0, i, w[:, :a, None] * unit[:, None, :])
        q = h.new_zeros(n, a, 6).index_add_(0, i, w[:, a:, None] * outer_components(unit)[:, None, :])
        return h + self.out(torch.cat([self.aggregate(h, i, j, rbf), (mu * mu).sum(-1), tensor_invariants(q)], dim=1))


def outer_components(unit: torch.Tensor) -> torch.Tensor:
    """The six components (E, 6) xx, yy, zz, xy, xz, yz of r̂ r̂ᵀ for unit vectors (E, 3)."""
    x, y, z = unit[:, 0], unit[:, 1], unit[:, 2]
    return torch.stack([x * x, y * y, z * z, x * y, x * z, y * z], dim=1)


def spherical_l3(u: torch.Tensor) -> torch.Tensor:
    """Real spherical harmonics of order 3 (E, 7) of unit vectors (E, 3), scaled so that Σ_m Y_m² = 1."""
    x, y, z = u[:, 0], u[:, 1], u[:, 2]
    # orthonormal Y_3m times sqrt(4π / 7); the constants below already hold that factor
    return torch.stack(
        [
            math.sqrt(5 / 8) * (3 * x * x - y * y) * y,
            math.sqrt(15) * x * y * z,
            math.sqrt(3 / 8) * y * (5 * z * z - 1),
            0.5 * z * (5 * z * z - 3),
            math.sqrt(3 / 8) * x * (5 * z * z - 1),
            math.sqrt(15 / 4) * z * (x * x - y * y),
            math.sqrt(5 / 8) * (x * x - 3 * y * y) * x,
        ],
        dim=1,
    )


def spherical_l4(u: torch.Tensor) -> torch.Tensor:
    """Real spherical harmonics of order 4 (E, 9) of unit vectors (E, 3), scaled so that Σ_m Y_m² = 1."""
    x, y, z = u[:, 0], u[:, 1], u[:, 2]
    x2, y2, z2 = x * x, y * y, z * z
    # orthonormal Y_4m times sqrt(4π / 9) = (2/3) sqrt(π)
    return torch.stack(
        [
            math.sqrt(35) / 2 * x * y * (x2 - y2),
            math.sqrt(35 / 8) * (3 * x2 - y2) * y * z,
            math.sqrt(5) / 2 * x * y * (7 * z2 - 1),
            math.sqrt(5 / 8) * y * z * (7 * z2 - 3),
            (35 * z2 * z2 - 30 * z2 + 3) / 8,
            math.sqrt(5 / 8) * x * z * (7 * z2 - 3),
            math.sqrt(5) / 4 * (x2 - y2) * (7 * z2 - 1),
            math.sqrt(35 / 8) * (x2 - 3 * y2) * x * z,
            math.sqrt(35) / 8 * (x2 * (x2 - 3 * y2) - y2 * (3 * x2 - y2)),
        ],
        dim=1,
    )


HARMONICS = {"l3": spherical_l3, "l4": spherical_l4}  # the keys of ``ProbeNet.high_l``


def quadratic_form(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """xᵀ A x (..., ) for symmetric A given by six components t (..., 6) and vectors x (..., 3)."""
    a, b, c = x[..., 0], x[..., 1], x[..., 2]
    return (
        t[..., 0] * a * a
        + t[..., 1] * b * b
        + t[..., 2] * c * c
        + 2 * (t[..., 3] * a * b + t[..., 4] * a * c + t[..., 5] * b * c)
    )


def tensor_invariants(t: torch.Tensor) -> torch.Tensor:
    """Squared Frobenius norms (P, T) of the traceless parts of symmetric tensors given by their
    six components (P, T, 6): |A − tr(A) I/3|² = Σ_ii A_ii² + 2 Σ_i<j A_ij² − tr(A)²/3."""
    diag, off = t[..., :3], t[..., 3:]
    return (diag * diag).sum(-1) + 2 * (off * off).sum(-1) - diag.sum(-1) ** 2 / 3


def traceless(t: torch.Tensor) -> torch.Tensor:
    """Six components (..., 6) of a symmetric tensor's traceless part."""
    trace = t[..., :3].sum(-1, keepdim=True) / 3
    return torch.cat([t[..., :3] - trace, t[..., 3:]], dim=-1)


def orientation_layers(c: NetConfig, n: int) -> tuple[nn.Linear, nn.Linear, nn.Linear]:
    """For n atom vector or tensor channels: the atom-pair radial filter, the feature map of the
    neighbour, and the probe's radial filter that gathers them (all linear, no bias)."""
    return nn.Linear(c.rbf, n, bias=False), nn.Linear(c.features, n, bias=False), nn.Linear(c.rbf, n, bias=False)


class ProbeNet(nn.Module):
    """ELF at probe points. See the module docstring for the architecture."""

    long_range_sigma: torch.Tensor  # buffers (declared for the type checker)
    electronic_mean: torch.Tensor
    electronic_std: torch.Tensor

    def __init__(self, config: NetConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.embed = nn.Embedding(119, c.features)
        self.atom_rbf = RadialBasis(c.rbf, c.cutoff_atom)
        self.probe_rbf = RadialBasis(c.rbf, c.cutoff_probe)
        self.interactions = nn.ModuleList(
            AngularInteraction(c.features, c.rbf, c.atom_angular_features)
            if c.atom_angular_features
            else Interaction(c.features, c.rbf)
            for _ in range(c.layers)
        )
        # probe filters are linear in the radial basis: cheap for millions of probe–atom pairs
        self.scalar_filter = nn.Linear(c.rbf, c.features, bias=False)
        self.vector_filter = nn.Linear(c.rbf, c.vector_features, bias=False)
        self.atom_to_vector = nn.Linear(c.features, c.vector_features, bias=False)
        if c.tensor_features:
            self.tensor_filter = nn.Linear(c.rbf, c.tensor_features, bias=False)
            self.atom_to_tensor = nn.Linear(c.features, c.tensor_features, bias=False)
        self.high_l = nn.ModuleDict(
            {
                f"l{order}": nn.ModuleList([nn.Linear(c.rbf, n, bias=False), nn.Linear(c.features, n, bias=False)])
                for order, n in ((3, c.l3_features), (4, c.l4_features))
                if n
            }
        )
        if max(c.atom_vector_features, c.atom_tensor_features) > c.vector_features:
            raise ValueError("atom_vector_features and atom_tensor_features must not exceed vector_features")
        if c.atom_vector_features:
            self.atom_vector_filter, self.atom_to_atom_vector, self.orientation_filter = orientation_layers(
                c, c.atom_vector_features
            )
        if c.atom_tensor_features:
            self.atom_tensor_filter, self.atom_to_atom_tensor, self.axis_filter = orientation_layers(
                c, c.atom_tensor_features
            )
        if c.electronic_channels:  # set from the training data before training (``set_electronic_scale``)
            self.register_buffer("electronic_mean", torch.zeros(c.electronic_channels))
            self.register_buffer("electronic_std", torch.ones(c.electronic_channels))
        n_long = len(c.long_range_sigmas) * c.long_range_channels
        if n_long:
            self.charges = nn.Linear(c.features, n_long)
            self.register_buffer(
                "long_range_sigma", torch.tensor(c.long_range_sigmas).repeat_interleave(c.long_range_channels)
            )
        self.head = nn.Sequential(
            nn.Linear(
                c.features
                + c.vector_features
                + c.tensor_features
                + self.n_orientation
                + c.l3_features
                + c.l4_features
                + n_long
                + c.electronic_channels,
                c.hidden,
            ),
            nn.SiLU(),
            nn.Linear(c.hidden, c.hidden),
            nn.SiLU(),
            nn.Linear(c.hidden, 1),
        )

    def refine(
        self, numbers: torch.Tensor, ai: torch.Tensor, aj: torch.Tensor, rbf: torch.Tensor, unit: torch.Tensor
    ) -> torch.Tensor:
        """Atom features (N, F) through the interaction layers, given the pairs' radial basis (E, K) and
        unit vectors (E, 3)."""
        h = self.embed(numbers)
        for layer in self.interactions:
            h = layer(h, ai, aj, rbf, unit)
        return h

    @property
    def n_orientation(self) -> int:
        """Number of orientation invariants the head reads: |m|², m · v, mᵀ T m (where T exists);
        |Q|², tr(Q T) (where T exists), vᵀ Q v."""
        c = self.config
        vec = 2 * c.atom_vector_features + min(c.atom_vector_features, c.tensor_features)
        return vec + 2 * c.atom_tensor_features + min(c.atom_tensor_features, c.tensor_features)

    def atom_state(self, numbers: torch.Tensor, ai: torch.Tensor, aj: torch.Tensor, d_aa: torch.Tensor) -> torch.Tensor:
        """What probes read from each atom, (N, F + 3C + 6D): the invariant features h (N, F), then the
        atom vectors μ (N, C, 3) and the atom tensors' six components xx, yy, zz, xy, xz, yz (N, D, 6),
        flattened (C = ``atom_vector_features``, D = ``atom_tensor_features``). ``d_aa`` (E, 3) Å:
        x_i − x_j of each atom pair (i ← j)."""
        r = torch.linalg.vector_norm(d_aa, dim=1)
        rbf = self.atom_rbf(r)  # once: the interactions and the atom vectors and tensors share it
        unit = d_aa / r.clamp_min(1e-9)[:, None]
        h = self.refine(numbers, ai, aj, rbf, unit)
        c, d = self.config.atom_vector_features, self.config.atom_tensor_features
        if not (c or d):
            return h
        parts = [h]
        if c:
            w = self.atom_vector_filter(rbf) * self.atom_to_atom_vector(h)[aj]  # (E, C)
            mu = torch.zeros(h.shape[0], c, 3, dtype=h.dtype, device=h.device)
            parts.append(mu.index_add_(0, ai, w[:, :, None] * unit[:, None, :]).reshape(h.shape[0], 3 * c))
        if d:
            w = self.atom_tensor_filter(rbf) * self.atom_to_atom_tensor(h)[aj]  # (E, D)
            comps = outer_components(unit) - unit.new_tensor([1 / 3, 1 / 3, 1 / 3, 0, 0, 0])  # traceless
            q = torch.zeros(h.shape[0], d, 6, dtype=h.dtype, device=h.device)
            parts.append(q.index_add_(0, ai, w[:, :, None] * comps[:, None, :]).reshape(h.shape[0], 6 * d))
        return torch.cat(parts, dim=1)

    def state_parts(self, state: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Atom vectors μ (N, C, 3) and atom tensors (N, D, 6) of an atom state (None where absent)."""
        f, c, d = self.config.features, self.config.atom_vector_features, self.config.atom_tensor_features
        # contiguous copies: the invariants' many elementwise products run ~3x faster on them
        mu = state[:, f : f + 3 * c].reshape(-1, c, 3).contiguous() if c else None
        q = state[:, f + 3 * c : f + 3 * c + 6 * d].reshape(-1, d, 6).contiguous() if d else None
        return mu, q

    def invariant(self, state: torch.Tensor) -> torch.Tensor:
        """The rotation-invariant part h (N, F) of an atom state (domain checks, long-range charges)."""
        return state[:, : self.config.features]

    def orientation_invariants(
        self, m: torch.Tensor | None, q: torch.Tensor | None, v: torch.Tensor, t: torch.Tensor | None
    ) -> torch.Tensor:
        """Invariants (P, n_orientation) of the gathered atom vectors m (P, C, 3) and atom tensors q
        (P, D, 6, traceless) with the probe's vector channels v (P, V, 3) and rank-2 channels t (P, T, 6)
        (None where absent): |m_c|², m_c · v_c, m_cᵀ T̃_c m_c; |Q_d|², tr(Q_d T_d), v_dᵀ Q_d v_d."""
        feats = []
        nt = t.shape[1] if t is not None else 0
        if m is not None:
            c = m.shape[1]
            feats += [(m * m).sum(-1), (m * v[:, :c]).sum(-1)]
            k = min(c, nt)
            if k and t is not None:
                tk = t[:, :k]
                trace = tk[..., :3].sum(-1)
                feats.append(quadratic_form(tk, m[:, :k]) - trace * (m[:, :k] ** 2).sum(-1) / 3)
        if q is not None:
            d = q.shape[1]
            feats.append(tensor_invariants(q))
            k = min(d, nt)
            if k and t is not None:  # tr(Q T) = Σ_i Q_ii T_ii + 2 Σ_i<j Q_ij T_ij; Q traceless: T's trace drops out
                prod = q[:, :k] * t[:, :k]
                feats.append(prod[..., :3].sum(-1) + 2 * prod[..., 3:].sum(-1))
            feats.append(quadratic_form(q, v[:, :d]))
        return torch.cat(feats, dim=1)

    @property
    def long_range(self) -> bool:
        return bool(self.config.long_range_sigmas)

    def long_range_at(self, h: torch.Tensor, positions: torch.Tensor, cell, points: torch.Tensor) -> torch.Tensor:
        """Long-range channels (P, C) at points (P, 3) Å of one structure with atom features h (N, F)."""
        from geoelf.model.longrange import at_points

        return at_points(self.charges(h), positions, cell, self.long_range_sigma, points)

    def probe_logits(
        self,
        state: torch.Tensor,
        n_probes: int,
        pi: torch.Tensor,
        pa: torch.Tensor,
        disp: torch.Tensor,
        extra: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits (P,) at probes from atom states (``atom_state``) and probe–atom pairs (disp = probe − atom, Å);
        ``extra`` (P, C): the long-range channels of a long-range model, then the standardised electronic
        channels of an electronic one (``extra_inputs``)."""
        h = self.invariant(state)
        r = torch.linalg.vector_norm(disp, dim=1)
        rbf = self.probe_rbf(r)
        s = torch.zeros(n_probes, h.shape[1], dtype=h.dtype, device=h.device)
        s.index_add_(0, pi, self.scalar_filter(rbf) * h[pa])
        unit = disp / r.clamp_min(1e-9)[:, None]
        w = self.vector_filter(rbf) * self.atom_to_vector(h)[pa]  # (E, V)
        v = torch.zeros(n_probes, w.shape[1], 3, dtype=h.dtype, device=h.device)
        v.index_add_(0, pi, w[:, :, None] * unit[:, None, :])
        feats = [s, self.vector_invariants(v)]
        t = None
        if self.config.tensor_features:
            wt = self.tensor_filter(rbf) * self.atom_to_tensor(h)[pa]  # (E, T)
            t = torch.zeros(n_probes, wt.shape[1], 6, dtype=h.dtype, device=h.device)
            t.index_add_(0, pi, wt[:, :, None] * outer_components(unit)[:, None, :])
            feats.append(tensor_invariants(t))
        mu, q = self.state_parts(state)
        m = qp = None
        if mu is not None:
            m = torch.zeros(n_probes, mu.shape[1], 3, dtype=h.dtype, device=h.device)
            m.index_add_(0, pi, self.orientation_filter(rbf)[:, :, None] * mu[pa])
        if q is not None:
            qp = torch.zeros(n_probes, q.shape[1], 6, dtype=h.dtype, device=h.device)
            qp.index_add_(0, pi, self.axis_filter(rbf)[:, :, None] * q[pa])
        if self.n_orientation:
            feats.append(self.orientation_invariants(m, qp, v, t))
        feats += self.high_l_invariants(h, n_probes, pi, pa, rbf, unit)
        feats += [extra] if extra is not None else []
        return self.head(torch.cat(feats, dim=1))[:, 0]

    def high_l_invariants(
        self, h: torch.Tensor, n_probes: int, pi: torch.Tensor, pa: torch.Tensor, rbf: torch.Tensor, unit: torch.Tensor
    ) -> list[torch.Tensor]:
        """Power spectra (P, n_l) of the l = 3 and l = 4 probe channels (an empty list without them)."""
        out = []
        for key, pair in self.high_l.items():
            radial, mix = cast(nn.ModuleList, pair)
            y = HARMONICS[key](unit)  # (E, 2l + 1)
            w = radial(rbf) * mix(h)[pa]  # (E, n)
            a = torch.zeros(n_probes, w.shape[1], y.shape[1], dtype=h.dtype, device=h.device)
            a.index_add_(0, pi, w[:, :, None] * y[:, None, :])
            out.append((a * a).sum(-1))
        return out

    def vector_invariants(self, v: torch.Tensor, vector_axis: int = -1) -> torch.Tensor:
        """Rotation invariants (P, V) of vector channels v (P, V, 3), or (P, 3, V) with vector_axis=1:
        their squared norms."""
        return (v * v).sum(vector_axis)

    def probe_factors(self, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, tuple[int, int, int, int, int]]:
        """The probe messages in factored form: radial filters (K, C), atom values (N, C) and the
        channel widths (F + 3C' + 6D', V, T, L3, L4) that split C.

        The probe filters are linear in the radial basis and each channel's filter is shared by all
        atoms, so channel c of a pair at distance r is φ_c(r) x[a, c] with φ_c = Σ_k rbf_k
        filters[k, c]: s_p = Σ_pairs φ x over the scalar channels, v_p = Σ φ x r̂, T_p = Σ φ x r̂r̂ᵀ and
        the l = 3, 4 channels Σ φ x Y_l(r̂) — the form the fused grid kernel evaluates with one radial
        table for all atoms. The gathered atom vectors m_p and tensors hold no r̂, so their 3C' + 6D'
        components ride along as scalar channels (each component with its channel's filter).
        """
        h = self.invariant(state)
        mu, q = self.state_parts(state)
        n = h.shape[0]
        filters, values = [self.scalar_filter.weight.T], [h]
        # each vector or tensor component with its channel's filter, in the state's order c·3 + d or c·6 + d
        if mu is not None:
            filters.append(self.orientation_filter.weight.T.repeat_interleave(3, dim=1))
            values.append(mu.reshape(n, -1))
        if q is not None:
            filters.append(self.axis_filter.weight.T.repeat_interleave(6, dim=1))
            values.append(q.reshape(n, -1))
        scalar = sum(f.shape[1] for f in filters)
        filters.append(self.vector_filter.weight.T)
        values.append(self.atom_to_vector(h))
        if self.config.tensor_features:
            filters.append(self.tensor_filter.weight.T)
            values.append(self.atom_to_tensor(h))
        for pair in self.high_l.values():
            radial, mix = cast(nn.ModuleList, pair)
            filters.append(cast(nn.Linear, radial).weight.T)
            values.append(mix(h))
        c = self.config
        widths = (scalar, c.vector_features, c.tensor_features, c.l3_features, c.l4_features)
        return torch.cat(filters, dim=1), torch.cat(values, dim=1), widths

    def set_electronic_scale(self, channels: torch.Tensor) -> None:
        """Standardise the electronic channels with the mean and spread of ``channels`` (P, C) (training probes)."""
        self.electronic_mean.copy_(channels.mean(0))
        self.electronic_std.copy_(channels.std(0) + 1e-6)

    def extra_inputs(self, long_range: torch.Tensor | None, electronic: torch.Tensor | None) -> torch.Tensor | None:
        """The head's inputs after the local invariants (P, C) or None: the long-range channels of a
        long-range model, then the standardised electronic channels (raw: ``electronic``) of an electronic one."""
        parts = [] if long_range is None else [long_range]
        if self.config.electronic_channels:
            if electronic is None:
                raise ValueError("an electronic model needs the electronic channels at its probes")
            parts.append((electronic.to(self.electronic_mean.dtype) - self.electronic_mean) / self.electronic_std)
        return torch.cat(parts, dim=1) if parts else None

    def forward(self, batch: dict) -> torch.Tensor:
        """ELF (P,) for a batch dict with keys numbers, ai, aj, d_aa, n_probes, pi, pa, disp
        (and ``structures`` for a long-range model, ``electronic`` (P, C) for an electronic one; see ``make_batch``)."""
        state = self.atom_state(batch["numbers"], batch["ai"], batch["aj"], batch["d_aa"])
        long = None
        if self.long_range:
            h = self.invariant(state)
            long = torch.cat(
                [self.long_range_at(h[a0:a1], pos, cell, pts) for a0, a1, cell, pos, pts in batch["structures"]]
            )
        extra = self.extra_inputs(long, batch.get("electronic"))
        return torch.sigmoid(
            self.probe_logits(state, batch["n_probes"], batch["pi"], batch["pa"], batch["disp"], extra)
        )
