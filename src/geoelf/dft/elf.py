"""SCF + pp.x ELF for one structure under protocol v1, and resumable batches of them."""

from __future__ import annotations

import json
import logging
import math
import shutil
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from geoelf.dft.inputs import pp_elf_input, pw_scf_input
from geoelf.dft.parsers import ScfResult, parse_pw_scf
from geoelf.dft.profile import Profile, run_program
from geoelf.dft.protocol import ElfProtocol
from geoelf.field import Field
from geoelf.provenance import file_sha256
from geoelf.units import EV_A3_GPA

log = logging.getLogger(__name__)
KB_EV = 8.617333262e-5  # eV/K


class DftFailure(Exception):
    """A DFT run that must not become a sample (non-converged SCF, pp.x failure, bad ELF)."""


@dataclass
class ElfRun:
    """An ELF label and the facts of the run that made it."""

    field: Field
    scf: ScfResult
    meta: dict[str, Any]


def ideal_gas_pressure_gpa(natoms: int, temperature_k: float | None, volume_a3: float) -> float | None:
    """Ionic kinetic (ideal-gas) pressure N k_B T / V in GPa; None without a temperature."""
    if not temperature_k:
        return None
    return natoms * KB_EV * temperature_k / volume_a3 * EV_A3_GPA


def scf(atoms: Atoms, workdir: Path, profile: Profile, protocol: ElfProtocol) -> ScfResult:
    """Run one protocol SCF (forces, stress) in ``workdir``; raise DftFailure if not converged."""
    kmesh = protocol.kmesh(atoms.cell.array)
    text = pw_scf_input(atoms, protocol, kmesh, str(profile.pseudo_folder()))
    (workdir / "pw.in").write_text(text)
    pools = _pools(profile.nprocs, kmesh)
    rc = run_program(profile.command(profile.pw, ["-nk", str(pools)] if pools > 1 else []), workdir, "pw.in", "pw.out")
    out = (workdir / "pw.out").read_text(errors="replace")
    result = parse_pw_scf(out, len(atoms))
    if rc != 0 or result.energy_ev is None:
        raise DftFailure(f"pw.x failed (exit {rc}): {_last_error(out)}")
    if not result.converged:
        raise DftFailure("SCF did not converge")
    return result


def compute_elf(
    atoms: Atoms,
    profile: Profile | None = None,
    protocol: ElfProtocol | None = None,
    workdir: str | Path | None = None,
    keep: bool = False,
) -> ElfRun:
    """SCF + pp.x ELF of ``atoms`` (hydrogen, any periodic cell). Raises DftFailure on a bad run."""
    profile = profile or Profile.load()
    protocol = protocol or ElfProtocol()
    tmp = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="geoelf-dft-"))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        result = scf(atoms, tmp, profile, protocol)
        t1 = time.perf_counter()
        (tmp / "pp.in").write_text(pp_elf_input("elf.cube"))
        rc = run_program(profile.command(profile.pp), tmp, "pp.in", "pp.out")
        t2 = time.perf_counter()
        if rc != 0 or not (tmp / "elf.cube").is_file():
            raise DftFailure(f"pp.x failed (exit {rc}): {_last_error((tmp / 'pp.out').read_text(errors='replace'))}")
        from geoelf.io.cube import read_cube

        field = read_cube(str(tmp / "elf.cube"))
        _check_elf(field, result)
        # pp.x writes positions in the cube; keep the exact input structure instead.
        field = Field(field.data, atoms.copy(), "ELF")
        kmesh = protocol.kmesh(atoms.cell.array)
        meta = {
            "protocol": protocol.as_dict(),
            "protocol_id": protocol.id,
            "qe_version": result.qe_version,
            "pseudo": protocol.pseudo,
            "pseudo_sha256": file_sha256(profile.pseudo_folder() / protocol.pseudo),
            "kmesh": list(kmesh),
            "n_kpoints": result.n_kpoints,
            "ecutwfc_ry": protocol.ecutwfc,
            "energy_ev": result.energy_ev,
            "fermi_ev": result.fermi_ev,
            "pressure_gpa": result.pressure_gpa,
            "stress_gpa": None if result.stress_gpa is None else result.stress_gpa.tolist(),
            "scf_iterations": result.scf_iterations,
            "fft_grid": list(field.shape),
            "seconds_scf": round(t1 - t0, 2),
            "seconds_pp": round(t2 - t1, 2),
            "nprocs": profile.nprocs,
        }
        return ElfRun(field, result, meta)
    finally:
        if not keep and workdir is None:
            shutil.rmtree(tmp, ignore_errors=True)


def _check_elf(field: Field, result: ScfResult) -> None:
    if result.fft_grid and tuple(result.fft_grid) != field.shape:
        raise DftFailure(f"pp.x grid {field.shape} differs from the FFT grid {result.fft_grid}")
    lo, hi = float(field.data.min()), float(field.data.max())
    if not np.all(np.isfinite(field.data)) or lo < -1e-6 or hi > 1 + 1e-6:
        raise DftFailure(f"ELF outside [0, 1]: min {lo:.3g}, max {hi:.3g}")


def _pools(nprocs: int, kmesh: tuple[int, int, int]) -> int:
    """k-point pools: parallelise over k when there are several k-points (cheapest on few cores)."""
    nk = math.prod(kmesh)
    return nprocs if nk >= 2 * nprocs else 1


def _last_error(text: str) -> str:
    lines = [row.strip() for row in text.splitlines() if row.strip()]
    for i, line in enumerate(lines):
        if line.startswith("Error in routine"):
            return " ".join(lines[i : i + 2])[:200]
    return (lines[-1] if lines else "no output")[:200]


def label_batch(
    items: Iterable[tuple[str, Atoms, dict[str, Any]]],
    out_dir: str | Path,
    profile: Profile,
    protocol: ElfProtocol | None = None,
    progress: bool = True,
    workers: int = 1,
    write_cube: bool = False,
) -> dict[str, int]:
    """Label structures into ``out_dir/<sample_id>.h5``; finished samples are skipped (resumable).

    Each sample is written to a temporary name and renamed when complete, so a run killed at any
    moment leaves only whole samples; leftovers of a killed write are removed on the next start.
    Rejected samples are logged with their reason in ``out_dir/rejected.jsonl`` and never written.
    ``workers`` structures run at once, sharing the profile's cores.
    """
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from tqdm import tqdm

    protocol = protocol or ElfProtocol()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob(".*.tmp"):
        stale.unlink()
    items = list(items)
    todo = [(sid, a, m) for sid, a, m in items if not (out / f"{sid}.h5").exists()]
    counts = {"done": 0, "rejected": 0, "skipped_existing": len(items) - len(todo)}
    workers = max(1, min(workers, len(todo) or 1))
    share = Profile(**{**profile.__dict__, "nprocs": max(1, profile.nprocs // workers)})
    bar = tqdm(total=len(todo), desc="dft elf", unit="sample", disable=not progress)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        jobs = {pool.submit(_label_one, atoms, share, protocol): (sid, atoms, meta) for sid, atoms, meta in todo}
        for job in as_completed(jobs):
            sid, atoms, meta = jobs[job]
            run_or_error = job.result()
            if isinstance(run_or_error, str):
                counts["rejected"] += 1
                log.warning("rejected %s: %s", sid, run_or_error)
                with open(out / "rejected.jsonl", "a") as fh:
                    fh.write(json.dumps({"sample_id": sid, "reason": run_or_error, "time": time.time()}) + "\n")
            else:
                _store(out, sid, atoms, meta, run_or_error, write_cube)
                counts["done"] += 1
            bar.update(1)
    bar.close()
    return counts


def _label_one(atoms: Atoms, profile: Profile, protocol: ElfProtocol) -> ElfRun | str:
    """One label in a worker process; a rejected run comes back as its reason."""
    try:
        return compute_elf(atoms, profile, protocol)
    except DftFailure as exc:
        return str(exc)


def _store(out: Path, sid: str, atoms: Atoms, meta: dict[str, Any], run: ElfRun, write_cube: bool) -> None:
    from geoelf.data.sample import write_sample

    full = {**meta, **run.meta, "sample_id": sid, "natoms": len(atoms)}
    full["pressure_ideal_gpa"] = ideal_gas_pressure_gpa(len(atoms), meta.get("temperature_k"), atoms.get_volume())
    if write_cube:
        from geoelf.io import write

        write(run.field, str(out / f"{sid}.ELF.cube.gz"))
    write_sample(out / f"{sid}.h5", run.field, full)
