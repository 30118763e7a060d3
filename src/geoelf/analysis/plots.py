"""Evaluation pictures: parity plot and histogram overlay of predicted vs reference ELF."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from geoelf.plots import _pyplot


def parity_and_histogram(ref: np.ndarray, pred: np.ndarray, folder: str, label: str) -> list[str]:
    plt = _pyplot()
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(5, 5), dpi=110)
    h = ax.hist2d(ref, pred, bins=200, range=[[0, 1], [0, 1]], cmap="magma_r", norm="log")
    ax.plot([0, 1], [0, 1], color="tab:blue", lw=0.8)
    ax.set_xlabel("DFT ELF")
    ax.set_ylabel(f"{label} ELF")
    fig.colorbar(h[3], ax=ax, label="grid points")
    fig.tight_layout()
    fig.savefig(out / "parity.png")
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
    bins = np.linspace(0, 1, 101)
    ax.hist(ref, bins=bins, density=True, histtype="stepfilled", alpha=0.5, label="DFT")
    ax.hist(pred, bins=bins, density=True, histtype="step", lw=1.5, label=label)
    ax.set_xlabel("ELF")
    ax.set_ylabel("probability density")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "histogram.png")
    plt.close(fig)
    return [str(out / "parity.png"), str(out / "histogram.png")]
