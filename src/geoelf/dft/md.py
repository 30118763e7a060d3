"""Born–Oppenheimer MD of fluid hydrogen with pw.x, run in resumable segments.

The trajectory is a folder. Each segment is one pw.x MD run of ``interval`` steps starting from the
last frame of the previous segment, with velocities drawn afresh from Maxwell–Boltzmann at the
target temperature (pw.x does this at the start of an SVR run). Re-drawing velocities is an
Andersen-like thermostat event: it keeps the canonical sampling of positions, and it makes every
segment boundary a clean restart point. A finished segment is saved atomically as
``segments/seg_NNNN.xyz``; a killed run repeats only the segment in progress. Segments after the
equilibration ones give the snapshots.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.io import read, write

from geoelf.dft.inputs import pw_md_input
from geoelf.dft.parsers import parse_md_frames
from geoelf.dft.profile import Profile, run_program
from geoelf.dft.protocol import MdSettings
from geoelf.errors import GeoelfError
from geoelf.io.common import atomic_path
from geoelf.units import volume_per_atom

log = logging.getLogger(__name__)
H2_BOND = 0.74  # Å


def random_molecular_start(natoms: int, rs_bohr: float, seed: int) -> Atoms:
    """``natoms`` H as randomly placed and oriented H2 molecules in a cubic cell at density rs.

    Molecule centres are drawn by random sequential addition with a minimum image distance that
    is lowered slowly until all fit, so the start is dense but free of overlaps.
    """
    if natoms % 2:
        raise GeoelfError("a molecular start needs an even number of atoms")
    rng = np.random.default_rng(seed)
    length = (natoms * volume_per_atom(rs_bohr)) ** (1 / 3)
    nmol = natoms // 2
    dmin = 0.9 * length / nmol ** (1 / 3)
    centres: list[np.ndarray] = []
    tries = 0
    while len(centres) < nmol:
        c = rng.random(3) * length
        d = np.array(centres) - c if centres else np.zeros((0, 3))
        d -= length * np.round(d / length)
        if len(centres) == 0 or np.min(np.linalg.norm(d, axis=1)) > dmin:
            centres.append(c)
        tries += 1
        if tries % 2000 == 0:
            dmin *= 0.97
    axes = rng.normal(size=(nmol, 3))
    axes /= np.linalg.norm(axes, axis=1)[:, None]
    pos = np.concatenate([np.array(centres) + 0.5 * H2_BOND * axes, np.array(centres) - 0.5 * H2_BOND * axes])
    atoms = Atoms(f"H{natoms}", positions=pos, cell=[length] * 3, pbc=True)
    atoms.wrap()
    return atoms


RUN_DEFAULTS: dict[str, Any] = {"phase": "fluid", "start_sha256": None}


def structure_sha256(atoms: Atoms) -> str:
    """A hash of a structure's species, cell and positions (Å, rounded to 1e-6)."""
    from geoelf.provenance import canonical_sha256

    return canonical_sha256(
        {
            "numbers": atoms.numbers.tolist(),
            "cell": np.round(atoms.cell.array, 6).tolist(),
            "positions": np.round(atoms.positions, 6).tolist(),
        }
    )


class Trajectory:
    """A resumable MD trajectory folder: ``run.json`` (settings) and ``segments/seg_NNNN.xyz``."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.segments = self.folder / "segments"

    def init(self, config: dict) -> dict:
        """Create the folder with ``config`` or check that an existing run has the same settings."""
        spec = self.folder / "run.json"
        if spec.exists():
            old = json.loads(spec.read_text())
            fixed = (
                "natoms",
                "rs",
                "temperature_k",
                "seed",
                "interval",
                "equilibration_segments",
                "phase",
                "start_sha256",
            )
            # runs written before a key existed hold its default (fluid MD from a random start)
            changed = [k for k in fixed if old.get(k, RUN_DEFAULTS.get(k)) != config.get(k, RUN_DEFAULTS.get(k))]
            if changed:
                raise GeoelfError(f"existing trajectory has other settings ({', '.join(changed)})", str(spec))
            return old
        self.segments.mkdir(parents=True, exist_ok=True)
        with atomic_path(spec) as tmp:
            Path(tmp).write_text(json.dumps(config, indent=1))
        return config

    def done(self) -> list[Path]:
        return sorted(self.segments.glob("seg_*.xyz"))

    def last_atoms(self) -> Atoms | None:
        done = self.done()
        return read(done[-1]) if done else None

    def snapshots(self) -> list[Atoms]:
        """Frames after equilibration, with their metadata in ``atoms.info``."""
        cfg = json.loads((self.folder / "run.json").read_text())
        return [read(p) for p in self.done()[cfg["equilibration_segments"] :]]


def run_md(
    folder: str | Path,
    natoms: int,
    rs: float,
    temperature_k: float,
    snapshots: int,
    interval: int = 60,
    equilibration: int = 300,
    seed: int = 0,
    profile: Profile | None = None,
    settings: MdSettings | None = None,
    progress: bool = True,
    start: Atoms | None = None,
    phase: str = "fluid",
) -> list[Atoms]:
    """Run (or resume, or extend) an MD trajectory until it holds ``snapshots`` snapshots.

    It starts from random H2 molecules at density ``rs`` (bohr), or from ``start`` (a relaxed
    crystal, say: its atoms and cell; ``natoms`` and ``rs`` must then be its own). ``phase`` is
    stored with every snapshot ("fluid", or "solid" for thermal snapshots of a crystal). A trajectory
    that another live process is running is refused (``geoelf.dft.claims``)."""
    from tqdm import tqdm

    from geoelf.dft.claims import holder, release, try_claim

    if not try_claim(folder):
        raise GeoelfError(f"the trajectory is being run by another process (pid {holder(folder)})", str(folder))
    try:
        profile = profile or Profile.load()
        settings = settings or MdSettings()
        traj = Trajectory(folder)
        n_eq = math.ceil(equilibration / interval)
        name = Path(folder).name
        cfg = traj.init(
            {
                "natoms": natoms,
                "rs": rs,
                "temperature_k": temperature_k,
                "seed": seed,
                "interval": interval,
                "equilibration_segments": n_eq,
                "trajectory": name,
                "settings": settings.__dict__,
                "phase": phase,
                "start_sha256": None if start is None else structure_sha256(start),
            }
        )
        total = n_eq + snapshots
        first = len(traj.done())
        if start is not None and len(start) != natoms:
            raise GeoelfError(f"the start structure has {len(start)} atoms, not {natoms}")
        atoms = traj.last_atoms() or (start.copy() if start is not None else random_molecular_start(natoms, rs, seed))
        bar = tqdm(total=total, initial=min(first, total), desc=f"md {name}", unit="seg", disable=not progress)
        for index in range(first, total):
            atoms = _segment(atoms, index, traj, cfg, settings, profile)
            bar.update(1)
        bar.close()
        return traj.snapshots()
    finally:
        release(folder)


def _segment(atoms: Atoms, index: int, traj: Trajectory, cfg: dict, settings: MdSettings, profile: Profile) -> Atoms:
    """One pw.x MD segment; the final frame is saved atomically and returned."""
    work = Path(tempfile.mkdtemp(prefix="geoelf-md-"))
    try:
        text = pw_md_input(atoms, settings, cfg["temperature_k"], cfg["interval"], str(profile.pseudo_folder()))
        (work / "pw.in").write_text(text)
        t0 = time.perf_counter()
        rc = run_program(profile.command(profile.pw), work, "pw.in", "pw.out")
        seconds = time.perf_counter() - t0
        out = (work / "pw.out").read_text(errors="replace")
        frames, temps = parse_md_frames(out, len(atoms))
        if len(frames) < cfg["interval"]:
            raise GeoelfError(
                f"pw.x MD segment {index} stopped after {len(frames)} steps (exit {rc})", str(work / "pw.out")
            )
        new = Atoms(atoms.get_chemical_symbols(), positions=frames[-1], cell=atoms.cell, pbc=True)
        new.wrap()
        step = (index + 1) * cfg["interval"]
        new.info.update(
            {
                "phase": cfg.get("phase", "fluid"),
                "rs": cfg["rs"],
                "temperature_k": cfg["temperature_k"],
                "trajectory": cfg["trajectory"],
                "md_step": step,
                "segment": index,
                "t_ion_mean_k": float(np.mean(temps)) if temps else float("nan"),
                "seconds_md_segment": round(seconds, 1),
            }
        )
        with atomic_path(traj.segments / f"seg_{index:04d}.xyz") as tmp:
            write(tmp, new, format="extxyz")
        log.info("segment %d: %.1f s, <T> = %.0f K", index, seconds, new.info["t_ion_mean_k"])
        return new
    finally:
        shutil.rmtree(work, ignore_errors=True)


def snapshot_items(folder: str | Path) -> list[tuple[str, Atoms, dict]]:
    """(sample_id, atoms, meta) for each snapshot of a trajectory folder, ready for labelling."""
    items = []
    for atoms in Trajectory(folder).snapshots():
        info = dict(atoms.info)
        sid = f"{info['trajectory']}_step{int(info['md_step']):06d}"
        keep = ("phase", "rs", "temperature_k", "trajectory", "md_step", "t_ion_mean_k")
        items.append((sid, atoms, {k: info[k] for k in keep if k in info}))
    return items


def wait_while_paused(pause_file: Path | None) -> None:
    """Block while ``pause_file`` exists (checked every 5 s): lets benchmarks have the machine
    between DFT steps without stretching a recorded pw.x timing."""
    if pause_file is not None and pause_file.exists():
        log.info("paused (%s exists)", pause_file)
        while pause_file.exists():
            time.sleep(5)
        log.info("resumed")


def sample_and_label(
    root: Path, run: dict[str, Any], snapshots: int, profile: Profile, pause_file: Path | None = None
) -> None:
    """Extend the MD trajectory ``run`` (name, natoms, rs, temperature_k, seed) under ``root/md`` one
    snapshot at a time up to ``snapshots``, labelling each new snapshot into ``root/fluid`` as soon
    as it exists. Resumable: finished segments and samples are kept; extending one snapshot at a
    time gives the same segments as one long call. A run that another generator holds is skipped,
    so several generators can work through one plan (``geoelf.dft.claims``)."""
    from geoelf.dft.claims import claimed

    md_dir = root / "md" / run["name"]
    with claimed(md_dir) as mine:
        if not mine:
            log.info("%s: another generator is running it, skipped", run["name"])
            return
        _extend_and_label(root, md_dir, run, snapshots, profile, pause_file)


def _extend_and_label(
    root: Path, md_dir: Path, run: dict[str, Any], snapshots: int, profile: Profile, pause_file: Path | None
) -> None:
    """``sample_and_label``'s work on a run this process holds."""
    from geoelf.dft.elf import label_batch

    for count in range(1, snapshots + 1):
        wait_while_paused(pause_file)
        run_md(
            md_dir,
            run["natoms"],
            run["rs"],
            run["temperature_k"],
            count,
            interval=60,
            equilibration=300,
            seed=run["seed"],
            profile=profile,
            progress=False,
        )
        wait_while_paused(pause_file)
        label_batch(snapshot_items(md_dir), root / "fluid" / run["name"], profile, progress=False)


def generate(root: Path, stages: list[tuple[int, list[dict[str, Any]]]], argv: list[str] | None = None) -> None:
    """Command-line driver of a dataset's generation script: every (snapshots, runs) stage in
    order, each run through :func:`sample_and_label`. Options: ``--only SUBSTRING`` of trajectory
    names, ``--pause-file PATH`` (default /tmp/geoelf-generate.pause)."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--only", help="substring of trajectory names to run")
    parser.add_argument("--pause-file", type=Path, default=Path("/tmp/geoelf-generate.pause"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    profile = Profile.load()
    for snapshots, runs in stages:
        for run in runs:
            if not args.only or args.only in run["name"]:
                sample_and_label(root, run, snapshots, profile, args.pause_file)
