"""geoelf dft elf | md | relax — Quantum ESPRESSO runs under DFT protocol v1."""

from __future__ import annotations

import argparse


def _profile_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", help="launch profile YAML (pw, pp, mpi, nprocs, pseudo_dir)")
    p.add_argument("--nprocs", type=int, help="MPI processes per job (default: profile, else 2)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    e = sub.add_parser("elf", help="SCF + pp.x ELF of hydrogen structures (resumable)")
    e.add_argument("structures", nargs="+", metavar="STRUCTURE", help="any file ASE reads; every frame is a structure")
    e.add_argument("-o", "--output", required=True, metavar="DIR", help="samples go to DIR/<name>.h5")
    e.add_argument("--cube", action="store_true", help="also write DIR/<name>.ELF.cube.gz")
    e.add_argument("--workers", type=int, default=1, help="structures computed at once (cores are shared)")
    e.add_argument(
        "--phase", default=None, help="phase label stored with the samples (default: from the file, else 'unknown')"
    )
    _profile_options(e)
    m = sub.add_parser(
        "md", help="Born–Oppenheimer MD of hydrogen: a fluid from a random molecular start, or a given structure"
    )
    m.add_argument("-o", "--output", required=True, metavar="DIR", help="trajectory folder (resumable)")
    dens = m.add_mutually_exclusive_group(required=True)
    dens.add_argument("--rs", type=float, help="Wigner–Seitz radius, bohr")
    dens.add_argument("--volume-per-atom", type=float, help="Å³ per atom")
    dens.add_argument(
        "--start", metavar="STRUCTURE", help="start from this structure (e.g. a relaxed crystal: thermal snapshots)"
    )
    m.add_argument("--phase", help="phase stored with the snapshots (default: fluid, or solid with --start)")
    m.add_argument("--temperature", type=float, required=True, help="K")
    m.add_argument("--natoms", type=int, default=64)
    m.add_argument("--snapshots", type=int, default=10)
    m.add_argument("--interval", type=int, default=60, help="MD steps between snapshots (≥ 60 advised)")
    m.add_argument("--equilibration", type=int, default=300, help="MD steps before the first snapshot")
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--label", metavar="DIR", help="also compute the ELF of each snapshot into DIR")
    _profile_options(m)
    r = sub.add_parser("relax", help="variable-cell relaxation at a pressure (ASE + pw.x SCF)")
    r.add_argument("structure", metavar="STRUCTURE")
    r.add_argument("--pressure", type=float, required=True, help="GPa")
    r.add_argument("-o", "--output", required=True, help="relaxed structure (extxyz, cif, POSCAR ...)")
    r.add_argument("--fmax", type=float, default=0.02, help="eV/Å")
    r.add_argument("--steps", type=int, default=100)
    r.add_argument(
        "--checkpoint", metavar="DIR", help="keep every geometry and the optimiser's state here; a rerun continues"
    )
    _profile_options(r)


def _profile(args):
    from geoelf.dft.profile import Profile
    from geoelf.errors import GeoelfError

    profile = Profile.load(args.profile, nprocs=args.nprocs)
    if not profile.available():
        raise GeoelfError(
            f"{profile.pw} / {profile.pp} not found: install quantum-espresso or set GEOELF_PW / GEOELF_PP"
        )
    return profile


def read_structures(paths: list[str], phase: str | None) -> list[tuple[str, object, dict]]:
    """(sample id, atoms, metadata) for every frame of every file."""
    from geoelf.errors import GeoelfError
    from geoelf.io.common import file_stem
    from geoelf.io.structures import read_frames

    items = []
    for path in paths:
        frames = read_frames(path)
        stem = file_stem(path)
        for k, atoms in enumerate(frames):
            if not atoms.pbc.all() or atoms.cell.rank < 3:
                raise GeoelfError(f"frame {k} has no periodic 3D cell", path)
            if set(atoms.get_chemical_symbols()) - {"H"}:
                raise GeoelfError(f"frame {k}: DFT protocol v1 covers hydrogen only", path)
            info = {k2: v for k2, v in atoms.info.items() if isinstance(v, (int, float, str))}
            sid = str(info.get("sample_id") or (stem if len(frames) == 1 else f"{stem}_{k:05d}"))
            meta = {key: info[key] for key in ("phase", "rs", "temperature_k", "trajectory", "md_step") if key in info}
            meta["phase"] = phase or meta.get("phase", "unknown")
            items.append((sid, atoms, meta))
    return items


def run(args: argparse.Namespace) -> int:
    if args.action == "elf":
        from geoelf.dft.elf import label_batch

        profile = _profile(args)
        counts = label_batch(
            read_structures(args.structures, args.phase),
            args.output,
            profile,
            workers=args.workers,
            write_cube=args.cube,
        )
        print(
            f"{counts['done']} computed, {counts['skipped_existing']} already done, {counts['rejected']} rejected "
            f"(reasons in {args.output}/rejected.jsonl)"
        )
        return 0 if counts["rejected"] == 0 else 1
    if args.action == "md":
        from geoelf.dft.md import run_md, snapshot_items
        from geoelf.units import volume_per_atom, wigner_seitz_rs

        profile = _profile(args)
        start, natoms = None, args.natoms
        if args.start:
            from geoelf.io.structures import read_frames

            start = read_frames(args.start)[-1]
            natoms = len(start)
            rs = wigner_seitz_rs(start.get_volume(), natoms)
        else:
            rs = args.rs if args.rs is not None else wigner_seitz_rs(args.volume_per_atom, 1)
        snaps = run_md(
            args.output,
            natoms,
            rs,
            args.temperature,
            args.snapshots,
            args.interval,
            args.equilibration,
            args.seed,
            profile,
            start=start,
            phase=args.phase or ("solid" if start is not None else "fluid"),
        )
        print(f"{len(snaps)} snapshots in {args.output}/segments (volume {volume_per_atom(rs):.4f} Å³/atom)")
        if args.label:
            from geoelf.dft.elf import label_batch

            counts = label_batch(snapshot_items(args.output), args.label, profile)
            print(
                f"{counts['done']} labelled, {counts['skipped_existing']} already done, {counts['rejected']} rejected"
            )
        return 0
    if args.action == "relax":
        from ase.io import write

        from geoelf.dft.relax import relax
        from geoelf.io.structures import read_frames

        profile = _profile(args)
        atoms = read_frames(args.structure)[-1]
        out, facts = relax(atoms, args.pressure, args.fmax, args.steps, profile, checkpoint=args.checkpoint)
        write(args.output, out)
        print(
            f"{'converged' if facts['converged'] else 'NOT converged'} in {facts['steps']} steps "
            f"({facts['n_scf']} SCF): P = {facts['pressure_gpa']:.1f} GPa, E = {facts['energy_ev']:.4f} eV"
            f" -> {args.output}"
        )
        return 0 if facts["converged"] else 1
    return 2
