"""σ(x), the pointwise uncertainty of a predicted ELF, and the calibration a model package carries.

The error model is a residual model fed by the network's own features: a small MLP (the *σ head*)
reads the same invariant features as the ELF head at every grid point and gives σ(x) > 0. It is
fitted on a held-out split by the Gaussian likelihood of the residuals r = prediction − DFT,
−log p = log σ + r² / 2σ², then scaled by one factor so that ±σ covers 68 % of the residuals of that
split. Outside the training domain σ grows with the frame's out-of-domain score (see
``inflation``). The topology's uncertainty (σ of φ, bond probabilities) is propagated from σ(x) by
``geoelf.topology.uncertainty``.

A calibration is two files in the model package: ``uncertainty.safetensors`` (the σ head) and
``uncertainty.json`` (its settings, the scale factors, the correlation length of the residual, what
it was fitted on, and the sha256 of both the σ head and the model weights it belongs to). A
calibration made for other weights, or a σ head that does not match its recorded hash, is refused.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from geoelf.errors import GeoelfError
from geoelf.provenance import canonical_sha256, file_sha256

FORMAT = "geoelf-uncertainty/1"
JSON_FILE = "uncertainty.json"
WEIGHTS_FILE = "uncertainty.safetensors"
SIGMA_FLOOR = 1e-4  # ELF units: no point is claimed exact
SIGMA_CEILING = 1.0  # the ELF lies in [0, 1]: no error is larger, however far out of domain
COVERAGE_1SIGMA = math.erf(1 / math.sqrt(2))  # 0.6827, the fraction of a Gaussian within ±σ


class SigmaHead(nn.Module):
    """σ(x) (P,) from the ELF head's input features x (P, n): standardised, one hidden layer, softplus."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, n_in: int, hidden: int = 16) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_in))
        self.register_buffer("std", torch.ones(n_in))
        self.net = nn.Sequential(nn.Linear(n_in, hidden), nn.SiLU(), nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = (x - self.mean) / self.std
        return nn.functional.softplus(self.net(z)[:, 0]) + SIGMA_FLOOR


@dataclass
class Calibration:
    """A fitted error model: the σ head, the factor that calibrates it (``point_scale``), the factor
    of the topology's σ (``phi_scale``), the residual's correlation length ``xi_A`` (Å) and the
    number of field samples behind σ_φ; ``record`` is the whole ``uncertainty.json``."""

    head: SigmaHead
    point_scale: float
    phi_scale: float
    xi_A: float
    samples: int
    record: dict[str, Any]

    @property
    def sha256(self) -> str:
        """What identifies this calibration in a run's provenance."""
        return self.record["sha256"]["record"]

    def sigma(self, features: np.ndarray) -> np.ndarray:
        """Calibrated σ (P,) at points with head features (P, n), before any out-of-domain growth."""
        with torch.no_grad():
            return self.point_scale * self.head(torch.from_numpy(features).float()).double().numpy()


def inflation(ood_score: float) -> float:
    """Factor by which σ grows for a frame with this out-of-domain score: 1 inside the domain
    (score ≤ 1), the score itself beyond it. The σ head, fitted inside the domain, cannot know how
    wrong the network is far outside it; this makes the error bars grow with the distance."""
    return max(1.0, float(ood_score))


def fit_sigma_head(
    features: np.ndarray, residuals: np.ndarray, hidden: int = 16, epochs: int = 30, seed: int = 0
) -> SigmaHead:
    """A σ head fitted by the Gaussian likelihood of ``residuals`` (P,) given ``features`` (P, n)."""
    torch.manual_seed(seed)
    x = torch.from_numpy(np.asarray(features, dtype=np.float32))
    r = torch.from_numpy(np.asarray(residuals, dtype=np.float32))
    head = SigmaHead(x.shape[1], hidden)
    head.mean.copy_(x.mean(0))
    head.std.copy_(x.std(0).clamp_min(1e-6))
    with torch.no_grad():  # start from the residuals' own RMS everywhere
        last = cast(nn.Linear, head.net[-1])
        last.bias.fill_(math.log(math.expm1(float(r.pow(2).mean().sqrt()))))
    opt = torch.optim.Adam(head.parameters(), lr=3e-3)
    rng = np.random.default_rng(seed)
    batch = 4096
    for _ in range(epochs):
        for idx in np.array_split(rng.permutation(len(r)), max(1, len(r) // batch)):
            s = head(x[idx])
            loss = (torch.log(s) + 0.5 * (r[idx] / s) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return head.eval()


def coverage_scale(ratios: np.ndarray, target: float = COVERAGE_1SIGMA) -> float:
    """The factor c such that a fraction ``target`` of |error| / σ_raw lies within c: then
    ±c·σ_raw covers that fraction of the errors it was fitted on."""
    finite = np.asarray(ratios, dtype=float)
    finite = finite[np.isfinite(finite)]
    if not len(finite):
        raise GeoelfError("no errors to calibrate the uncertainty on")
    return float(np.quantile(finite, target))


def save_calibration(folder: str | Path, head: SigmaHead, record: dict[str, Any]) -> Path:
    """Write ``uncertainty.safetensors`` and ``uncertainty.json`` into a model package, sealed with the
    σ head's sha256 and the package weights' sha256 (from its config.json)."""
    from safetensors.torch import save_file

    folder = Path(folder)
    config = json.loads((folder / "config.json").read_text())
    save_file({k: v.contiguous() for k, v in head.state_dict().items()}, str(folder / WEIGHTS_FILE))
    body = {
        "format": FORMAT,
        **{k: v for k, v in record.items() if k != "sha256"},
        "hidden": cast(nn.Linear, head.net[0]).out_features,
        "n_in": cast(nn.Linear, head.net[0]).in_features,
        "model_weights_sha256": config["sha256"]["weights"],
        "head_sha256": file_sha256(folder / WEIGHTS_FILE),
    }
    body["sha256"] = {"record": canonical_sha256(body)}
    (folder / JSON_FILE).write_text(json.dumps(body, indent=1))
    return folder / JSON_FILE


def load_calibration(folder: str | Path, weights_sha256: str) -> Calibration | None:
    """The package's calibration, or None when it has none. A damaged, edited or foreign one (made for
    other weights) is a GeoelfError naming the package."""
    from safetensors.torch import load_file

    folder = Path(folder)
    path = folder / JSON_FILE
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
        body = {k: v for k, v in record.items() if k != "sha256"}
        ok = record["format"] == FORMAT and record["sha256"]["record"] == canonical_sha256(body)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise GeoelfError(f"unreadable {JSON_FILE} ({exc.__class__.__name__})", str(folder)) from None
    if not ok:
        raise GeoelfError(f"{JSON_FILE} differs from the calibration as it was written (edited by hand?)", str(folder))
    if record["model_weights_sha256"] != weights_sha256:
        raise GeoelfError(f"{JSON_FILE} was fitted for other weights: run geoelf calibrate again", str(folder))
    if not (folder / WEIGHTS_FILE).is_file() or file_sha256(folder / WEIGHTS_FILE) != record["head_sha256"]:
        raise GeoelfError(f"{WEIGHTS_FILE} is missing or does not match {JSON_FILE}", str(folder))
    head = SigmaHead(int(record["n_in"]), int(record["hidden"]))
    head.load_state_dict(load_file(str(folder / WEIGHTS_FILE)))
    head.eval()
    return Calibration(
        head,
        float(record["point_scale"]),
        float(record["phi_scale"]),
        float(record["xi_A"]),
        int(record["samples"]),
        record,
    )
