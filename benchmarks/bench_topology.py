"""Speed of percolation (φ_1D/2D/3D, φ*) and of the critical-point search on a 128³ ELF grid.

The grid is a realistic dense-hydrogen ELF: the shipped 64-atom DFT example tiled 2×2×2
(512 H atoms) and Fourier-interpolated to 128³. Prints the median of several runs after one
warm-up run (numba compiles on first use; the compiled code is cached on disk, so the warm-up
also shows the cost of a first call in a new process). Run with one core:

    OMP_NUM_THREADS=1 taskset -c 0 python benchmarks/bench_topology.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "src" / "geoelf" / "examples" / "h64_rs1.25_T1200.ELF.cube.gz"


def elf_128(n: int = 128):
    from geoelf.field import Field
    from geoelf.io import read

    small = read(str(EXAMPLE))
    data = np.tile(small.data, (2, 2, 2))
    spec = np.fft.fftshift(np.fft.fftn(data))
    pad = [((n - s) // 2, n - s - (n - s) // 2) for s in data.shape]
    big = np.fft.ifftn(np.fft.ifftshift(np.pad(spec, pad))).real * (n**3 / data.size)
    atoms = small.atoms.repeat((2, 2, 2))
    return Field(np.clip(big, 0, 1), atoms)


def timed(fn, runs: int) -> tuple[float, float, object]:
    t0 = time.perf_counter()
    out = fn()
    first = time.perf_counter() - t0
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return first, statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from geoelf.interp import Interpolator
    from geoelf.topology.critical_points import critical_points
    from geoelf.topology.network import analyse
    from geoelf.topology.percolation import nucleus_voxels, percolate

    field = elf_128()
    hv = nucleus_voxels(field.atoms.get_scaled_positions(), field.shape)
    print(f"grid {field.shape}, {len(field.atoms)} H atoms, cores visible {len(os.sched_getaffinity(0))}")
    first, med, res = timed(lambda: percolate(field.data, hv, 6), args.runs)
    print(f"percolation φ_1D/2D/3D + φ* (6-connected):  median {med:.3f} s  (first call {first:.3f} s)  target ≤ 1 s  "
          f"→ {res.phi_1d:.4f} {res.phi_2d:.4f} {res.phi_3d:.4f} {res.phi_star:.4f}")
    first, med, _ = timed(lambda: percolate(field.data, hv, 26), args.runs)
    print(f"percolation, 26-connected (uncertainty):     median {med:.3f} s  (first call {first:.3f} s)")
    first, med, cps = timed(lambda: critical_points(field, Interpolator(field, 3)), max(1, args.runs // 2))
    c = cps.counts()
    print(f"all critical points of the interpolant:      median {med:.3f} s  (first call {first:.3f} s)  target ≤ 10 s  "
          f"→ {c}")
    first, med, an = timed(lambda: analyse(field), max(1, args.runs // 2))
    print(f"full analysis (CPs, graph, both φ methods):  median {med:.3f} s  (first call {first:.3f} s)  "
          f"graph φ_3D {an.graph_phi.phi_3d:.4f}")


if __name__ == "__main__":
    main()
