"""ProbeNet: ELF at probe points from atomic positions (PyTorch).

Atoms carry invariant features refined by SchNet-style continuous-filter interactions
(cutoff ``cutoff_atom``). Each probe point then gathers messages from the atoms within
``cutoff_probe``: scalar channels  s_p = Σ_a f(r_pa) ⊙ h_a  and vector channels
v_p = Σ_a g(r_pa) ⊙ h_a ⊗ r̂_pa, whose squared norms |v_p|² (per channel) carry angular
information about where the neighbours sit (at an H–H bond midpoint the vectors cancel) while
staying exactly rotation invariant (with ``vector_gram``, all dot products v_c · v_d between
channels instead). An MLP on [s_p, |v_p|²] and a sigmoid give the ELF in [0, 1].
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

import torch
from torch import nn


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
    # True: the head reads every dot product v_c · v_d of the vector channels (their Gram matrix,
    # upper triangle) instead of the squared norms alone: more three-body angular terms
    # Σ_ab w_a^c w_b^d cos θ_ab at the cost of a wider first head layer
    vector_gram: bool = False
    # > 0: that many rank-2 (l = 2) channels T_p = Σ_a t(r_pa) ⊙ h_a (r̂ r̂ᵀ − I/3), read through their
    # squared Frobenius norms Σ_ab w_a w_b (cos²θ_ab − 1/3): they tell "between two atoms on a line"
    # (where the vector channels cancel) from "beside one atom", the anisotropy of a bond's ELF
    tensor_features: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def cosine_cutoff(r: torch.Tensor, rc: float) -> torch.Tensor:
    """Smooth envelope: 1 at r = 0, 0 with zero slope at r = rc."""
    return 0.5 * (torch.cos(math.pi * r / rc) + 1.0) * (r < rc)


class RadialBasis(nn.Module):
    """Gaussians on [0, rc] times the cosine cutoff, shape (E, K)."""

    def __init__(self, n: int, rc: float) -> None:
        super().__init__()
        self.rc = rc
        self.register_buffer("centres", torch.linspace(0.0, rc, n))
        self.width = rc / n

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        g = torch.exp(-0.5 * ((r[:, None] - self.centres[None, :]) / self.width) ** 2)
        return g * cosine_cutoff(r, self.rc)[:, None]


class Interaction(nn.Module):
    """h_i += MLP(Σ_j W(rbf(r_ij)) ⊙ lin(h_j)) — SchNet's continuous-filter convolution."""

    def __init__(self, f: int, k: int) -> None:
        super().__init__()
        self.filter = nn.Sequential(nn.Linear(k, f), nn.SiLU(), nn.Linear(f, f))
        self.lin = nn.Linear(f, f, bias=False)
        self.out = nn.Sequential(nn.Linear(f, f), nn.SiLU(), nn.Linear(f, f))

    def forward(self, h: torch.Tensor, i: torch.Tensor, j: torch.Tensor, rbf: torch.Tensor) -> torch.Tensor:
        msg = self.filter(rbf) * self.lin(h)[j]
        agg = torch.zeros_like(h).index_add_(0, i, msg)
        return h + self.out(agg)


def outer_components(unit: torch.Tensor) -> torch.Tensor:
    """The six components (E, 6) xx, yy, zz, xy, xz, yz of r̂ r̂ᵀ for unit vectors (E, 3)."""
    x, y, z = unit[:, 0], unit[:, 1], unit[:, 2]
    return torch.stack([x * x, y * y, z * z, x * y, x * z, y * z], dim=1)


def tensor_invariants(t: torch.Tensor) -> torch.Tensor:
    """Squared Frobenius norms (P, T) of the traceless parts of symmetric tensors given by their
    six components (P, T, 6): |A − tr(A) I/3|² = Σ_ii A_ii² + 2 Σ_i<j A_ij² − tr(A)²/3."""
    diag, off = t[..., :3], t[..., 3:]
    return (diag * diag).sum(-1) + 2 * (off * off).sum(-1) - diag.sum(-1) ** 2 / 3


class ProbeNet(nn.Module):
    """ELF at probe points. See the module docstring for the architecture."""

    def __init__(self, config: NetConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.embed = nn.Embedding(119, c.features)
        self.atom_rbf = RadialBasis(c.rbf, c.cutoff_atom)
        self.probe_rbf = RadialBasis(c.rbf, c.cutoff_probe)
        self.interactions = nn.ModuleList(Interaction(c.features, c.rbf) for _ in range(c.layers))
        # probe filters are linear in the radial basis: cheap for millions of probe–atom pairs
        self.scalar_filter = nn.Linear(c.rbf, c.features, bias=False)
        self.vector_filter = nn.Linear(c.rbf, c.vector_features, bias=False)
        self.atom_to_vector = nn.Linear(c.features, c.vector_features, bias=False)
        if c.tensor_features:
            self.tensor_filter = nn.Linear(c.rbf, c.tensor_features, bias=False)
            self.atom_to_tensor = nn.Linear(c.features, c.tensor_features, bias=False)
        n_long = len(c.long_range_sigmas) * c.long_range_channels
        n_vec = c.vector_features * (c.vector_features + 1) // 2 if c.vector_gram else c.vector_features
        if c.vector_gram:
            self.register_buffer("gram_index", torch.triu_indices(c.vector_features, c.vector_features), persistent=False)
        if n_long:
            self.charges = nn.Linear(c.features, n_long)
            self.register_buffer("long_range_sigma", torch.tensor(c.long_range_sigmas).repeat_interleave(c.long_range_channels))
        self.head = nn.Sequential(
            nn.Linear(c.features + n_vec + c.tensor_features + n_long, c.hidden), nn.SiLU(),
            nn.Linear(c.hidden, c.hidden), nn.SiLU(),
            nn.Linear(c.hidden, 1),
        )

    def atom_features(self, numbers: torch.Tensor, ai: torch.Tensor, aj: torch.Tensor, r_aa: torch.Tensor) -> torch.Tensor:
        """Atom features (N, F) from atomic numbers (N,) and atom–atom pairs (i ← j, distance Å)."""
        h = self.embed(numbers)
        rbf = self.atom_rbf(r_aa)
        for layer in self.interactions:
            h = layer(h, ai, aj, rbf)
        return h

    @property
    def long_range(self) -> bool:
        return bool(self.config.long_range_sigmas)

    def long_range_at(self, h: torch.Tensor, positions: torch.Tensor, cell, points: torch.Tensor) -> torch.Tensor:
        """Long-range channels (P, C) at points (P, 3) Å of one structure with atom features h (N, F)."""
        from geoelf.model.longrange import at_points

        return at_points(self.charges(h), positions, cell, self.long_range_sigma, points)

    def probe_logits(self, h: torch.Tensor, n_probes: int, pi: torch.Tensor, pa: torch.Tensor, disp: torch.Tensor,
                     extra: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (P,) at probes from atom features and probe–atom pairs (disp = probe − atom, Å);
        ``extra`` (P, C): the long-range channels of a long-range model."""
        r = torch.linalg.vector_norm(disp, dim=1)
        rbf = self.probe_rbf(r)
        s = torch.zeros(n_probes, h.shape[1], dtype=h.dtype, device=h.device)
        s.index_add_(0, pi, self.scalar_filter(rbf) * h[pa])
        unit = disp / r.clamp_min(1e-9)[:, None]
        w = self.vector_filter(rbf) * self.atom_to_vector(h)[pa]  # (E, V)
        v = torch.zeros(n_probes, w.shape[1], 3, dtype=h.dtype, device=h.device)
        v.index_add_(0, pi, w[:, :, None] * unit[:, None, :])
        feats = [s, self.vector_invariants(v)]
        if self.config.tensor_features:
            wt = self.tensor_filter(rbf) * self.atom_to_tensor(h)[pa]  # (E, T)
            t = torch.zeros(n_probes, wt.shape[1], 6, dtype=h.dtype, device=h.device)
            t.index_add_(0, pi, wt[:, :, None] * outer_components(unit)[:, None, :])
            feats.append(tensor_invariants(t))
        feats += [extra] if extra is not None else []
        return self.head(torch.cat(feats, dim=1))[:, 0]

    def vector_invariants(self, v: torch.Tensor, vector_axis: int = -1) -> torch.Tensor:
        """Rotation invariants (P, n) of vector channels v (P, V, 3), or (P, 3, V) with vector_axis=1:
        squared norms, or the Gram matrix's upper triangle when ``vector_gram`` is set."""
        if not self.config.vector_gram:
            return (v * v).sum(vector_axis)
        gram = torch.einsum("pvc,pwc->pvw", v, v) if vector_axis == -1 else torch.einsum("pcv,pcw->pvw", v, v)
        return gram[:, self.gram_index[0], self.gram_index[1]]

    def atom_contributions(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-atom, per-radial-function probe contributions: us (N, K, F), uv (N, K, V), ut (N, K, T).

        Because the probe filters are linear in the radial basis, s_p = Σ_pairs Σ_k rbf_k us[a, k],
        v_p = Σ_pairs Σ_k rbf_k uv[a, k] r̂ and T_p = Σ_pairs Σ_k rbf_k ut[a, k] r̂r̂ᵀ — the form the
        fused grid kernel evaluates (T = 0 channels without ``tensor_features``).
        """
        us = self.scalar_filter.weight.T[None, :, :] * h[:, None, :]
        uv = self.vector_filter.weight.T[None, :, :] * self.atom_to_vector(h)[:, None, :]
        if not self.config.tensor_features:
            return us, uv, h.new_zeros(h.shape[0], self.config.rbf, 0)
        ut = self.tensor_filter.weight.T[None, :, :] * self.atom_to_tensor(h)[:, None, :]
        return us, uv, ut

    def head_from_channels(self, s: torch.Tensor, v: torch.Tensor, vector_axis: int = -1,
                           extra: torch.Tensor | None = None, t: torch.Tensor | None = None) -> torch.Tensor:
        """ELF from scalar (P, F) and vector channels (P, V, 3), or (P, 3, V) with vector_axis=1,
        the rank-2 channels' six components (P, T, 6) (xx, yy, zz, xy, xz, yz of Σ w r̂r̂ᵀ) when the
        model has them, and the long-range channels (P, C) of a long-range model."""
        feats = [s, self.vector_invariants(v, vector_axis)]
        feats += [tensor_invariants(t)] if self.config.tensor_features else []
        feats += [extra] if extra is not None else []
        return torch.sigmoid(self.head(torch.cat(feats, dim=1))[:, 0])

    def forward(self, batch: dict) -> torch.Tensor:
        """ELF (P,) for a batch dict with keys numbers, ai, aj, r_aa, n_probes, pi, pa, disp
        (and ``structures`` for a long-range model, see ``make_batch``)."""
        h = self.atom_features(batch["numbers"], batch["ai"], batch["aj"], batch["r_aa"])
        extra = None
        if self.long_range:
            extra = torch.cat([self.long_range_at(h[a0:a1], pos, cell, pts) for a0, a1, cell, pos, pts in batch["structures"]])
        return torch.sigmoid(self.probe_logits(h, batch["n_probes"], batch["pi"], batch["pa"], batch["disp"], extra))
