"""Evaluation pictures: parity plot and histogram overlay of predicted vs reference ELF."""

from __future__ import annotations

import math
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


def residual_plots(files: list[dict], rows: list[dict], ref, pred, folder: str) -> list[str]:
    """C(r), P(k) of residual and reference, trends against pressure, and a slice of δ."""
    from geoelf.plots import slice_plot

    plt = _pyplot()
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
    for f in files:
        ax.plot(f["autocorrelation"]["r"], f["autocorrelation"]["c"], lw=0.7, alpha=0.6)
    ax.axhline(math.exp(-1), color="k", lw=0.6, ls="--", label="1/e")
    ax.axvline(np.nanmean([f["d_hh"] for f in files]), color="tab:red", lw=0.8, label="mean nearest H–H")
    ax.set_xlabel("r (Å)")
    ax.set_ylabel("C(r) of the residual")
    ax.legend()
    fig.tight_layout()
    paths.append(str(out / "acf.png"))
    fig.savefig(paths[-1])
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
    for key, label in (("spectrum", "residual"), ("reference_spectrum", "DFT ELF")):
        k = np.array(files[0][key]["k"])
        power = np.mean([np.interp(k, f[key]["k"], f[key]["power"]) for f in files], axis=0)
        ax.semilogy(k[k > 0], power[k > 0], label=label)  # k = 0 holds only the removed mean
    ax.axvline(np.nanmean([f["k_cut"] for f in files]), color="tab:red", lw=0.8, label="2π / d_HH")
    ax.set_xlabel("|k| (Å⁻¹)")
    ax.set_ylabel("power per shell")
    ax.legend()
    fig.tight_layout()
    paths.append(str(out / "spectrum.png"))
    fig.savefig(paths[-1])
    plt.close(fig)
    known = [r for r in rows if r["pressure_gpa"] is not None]
    if known:
        fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), dpi=110)
        p = [r["pressure_gpa"] for r in known]
        for ax, key, label in zip(
            axes, ("rms", "xi", "longwave_fraction"), ("residual RMS", "ξ (Å)", "long-wave fraction")
        ):
            mean = np.array([r[key]["mean"] for r in known])
            lo = mean - np.array([r[key]["ci95"][0] for r in known])
            hi = np.array([r[key]["ci95"][1] for r in known]) - mean
            ax.errorbar(p, mean, yerr=[lo, hi], fmt="o-", capsize=3)
            if key == "xi":
                ax.plot(p, [r["d_hh"]["mean"] for r in known], "s--", label="mean nearest H–H")
                ax.legend()
            ax.set_xlabel("pressure (GPa)")
            ax.set_ylabel(label)
        fig.tight_layout()
        paths.append(str(out / "trends.png"))
        fig.savefig(paths[-1])
        plt.close(fig)
    delta = pred.with_data(pred.data - ref.data, name="residual")
    lim = float(np.max(np.abs(delta.data))) or 1.0
    paths.append(
        slice_plot(delta, str(out / "delta_slice.png"), cmap="RdBu_r", vmin=-lim, vmax=lim, label="prediction − DFT")
    )
    return paths
