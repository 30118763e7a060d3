"""geoelf predict STRUCTURE...: ELF from atomic positions with a trained model (every frame)."""

from __future__ import annotations

import argparse

from geoelf.cli.common import elf_value, positive_float, positive_int
from geoelf.model.package import DEFAULT_MODEL


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "structures",
        nargs="+",
        metavar="STRUCTURE",
        help="any file ASE reads (extxyz, POSCAR, cif, QE, LAMMPS dump ...)",
    )
    p.add_argument("--model", help=f"model package folder or shipped name (default: {DEFAULT_MODEL})")
    grid = p.add_mutually_exclusive_group()
    grid.add_argument("--grid", type=positive_int, nargs=3, metavar="N", help="grid points along a, b, c")
    grid.add_argument("--spacing", type=positive_float, metavar="Å", help="largest grid spacing")
    grid.add_argument("--like", metavar="REF", help="the grid (and cell) of this reference ELF file")
    p.add_argument(
        "-o",
        "--output",
        help="ELF file (.cube, ELFCAR, .xsf, .npz, + .gz); several frames get _NNNNN before the suffix",
    )
    p.add_argument("--network", action="store_true", help="also compute φ_1D/2D/3D, φ* and the H network")
    p.add_argument(
        "--isovalue",
        type=elf_value,
        default=0.7,
        help="ELF at which H clusters are counted with --network "
        "(default 0.7, as in screen; at φ_3D every H percolates)",
    )
    p.add_argument(
        "--uncertainty",
        action="store_true",
        help="also σ(x) of the ELF (written beside it as NAME_sigma.EXT) and, with --network, σ of each φ "
        "and the probability of each H–H bond point at --isovalue",
    )
    p.add_argument("--threads", type=positive_int, help="CPU threads (default: all)")
    p.add_argument(
        "--max-memory",
        type=positive_float,
        metavar="GB",
        help="refuse grids that would need more (default: available memory)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document")


def frames(paths: list[str]):
    """(source, index, atoms) for every frame of every file."""
    from geoelf.io.structures import read_frames

    for path in paths:
        for k, atoms in enumerate(read_frames(path)):
            yield path, k, atoms


def _reference_grid(path: str, all_frames: list):
    """The grid of ``--like REF``, which must share every frame's cell (else its counts would put
    points elsewhere than in REF)."""
    import numpy as np

    from geoelf.errors import GeoelfError
    from geoelf.io import read

    like = read(path)
    for source, index, atoms in all_frames:
        if not np.allclose(atoms.cell.array, like.cell, atol=1e-4):
            raise GeoelfError(
                f"--like: the cell of {source} frame {index} differs from this file's cell; "
                "give --grid or --spacing instead",
                path,
            )
    return like


def output_name(template: str, index: int, many: bool) -> str:
    if not many:
        return template
    name = template[:-3] if template.endswith(".gz") else template
    gz = ".gz" if template.endswith(".gz") else ""
    stem, dot, suffix = name.rpartition(".")
    if not dot or "/" in suffix or suffix.upper() in ("ELFCAR",):
        return f"{name}_{index:05d}{gz}"
    return f"{stem}_{index:05d}.{suffix}{gz}"


def sigma_name(output: str) -> str:
    """The file beside an ELF output that holds its σ(x): NAME_sigma.EXT (ELFCAR → ELFCAR_sigma)."""
    gz = ".gz" if output.endswith(".gz") else ""
    name = output[: -len(gz)] if gz else output
    stem, dot, suffix = name.rpartition(".")
    if dot and "/" not in suffix and suffix.lower() in ("cube", "cub", "xsf", "npz", "vasp"):
        return f"{stem}_sigma.{suffix}{gz}"
    return f"{name}_sigma{gz}"


def run(args: argparse.Namespace) -> int:
    import logging

    from geoelf.cli.common import fmt, print_json
    from geoelf.model.baselines import get_model
    from geoelf.model.grids import grid_shape
    from geoelf.model.predict import describe
    from geoelf.provenance import file_sha256, run_provenance

    log = logging.getLogger("geoelf.predict")
    if args.output:  # cheap checks before any prediction
        from geoelf.io import writable_format

        writable_format(args.output)
    all_frames = list(frames(args.structures))
    like = _reference_grid(args.like, all_frames) if args.like else None
    predictor = get_model(args.model, args.threads)
    shapes = [
        like.shape
        if like is not None
        else grid_shape(
            atoms.cell.array,
            args.grid,
            args.spacing,
            source,
            args.network,
            args.max_memory,
            predictor.structure_bytes(atoms),
        )
        for source, _, atoms in all_frames
    ]
    for source, index, atoms in all_frames:  # every frame checked before the first is predicted
        predictor.check(atoms, f"{source} frame {index}")
    options = {
        "grid": list(args.grid) if args.grid else None,
        "spacing_A": args.spacing,
        "like": file_sha256(args.like) if args.like else None,
    }
    if args.network:
        from geoelf.topology.network import TOPOLOGY_SETTINGS

        options.update(isovalue=args.isovalue, topology=TOPOLOGY_SETTINGS)
    calibration = getattr(predictor, "calibration", None)
    if args.uncertainty:
        if calibration is None:
            from geoelf.errors import GeoelfError

            raise GeoelfError(f"model {predictor.name} has no uncertainty calibration (geoelf calibrate makes one)")
        options["uncertainty_sha256"] = calibration.sha256
    provenance = run_provenance(predictor, options)
    hashes = {path: file_sha256(path) for path in dict.fromkeys(args.structures)}
    docs = []
    for n, ((source, index, atoms), shape) in enumerate(zip(all_frames, shapes)):
        pred = predictor.grid(atoms, shape, source=source, uncertainty=args.uncertainty)
        doc = {
            "source": source,
            "frame": index,
            "natoms": len(atoms),
            "grid": list(shape),
            "seconds": round(pred.seconds, 4),
            "out_of_domain": pred.out_of_domain,
            "domain_notes": pred.domain_notes,
            "ood_score": round(pred.ood_score, 4),
            "model": predictor.name,
            "input_sha256": hashes[source],
            "provenance": provenance,
        }
        for note in pred.domain_notes:
            log.warning("%s frame %d: outside the training domain: %s", source, index, note)
        if args.output:
            from geoelf.io import write

            doc["output"] = output_name(args.output, n, len(all_frames) > 1)
            write(pred.field, doc["output"])
            if pred.sigma is not None:
                doc["sigma_output"] = sigma_name(doc["output"])
                write(pred.sigma, doc["sigma_output"])
        if pred.sigma is not None:
            doc["elf_sigma_mean"] = float(pred.sigma.data.mean())
        if args.network:
            # the same description of a frame as a row of `geoelf screen`
            doc["network"], an = describe(pred, args.isovalue, calibration)
            if pred.sigma is not None:
                from geoelf.topology.uncertainty import bond_probabilities

                doc["bond_probabilities"] = bond_probabilities(an, pred.sigma, args.isovalue)
            else:  # no σ asked for: no empty σ keys
                from geoelf.topology.uncertainty import SIGMA_KEYS

                doc["network"] = {k: v for k, v in doc["network"].items() if k not in SIGMA_KEYS}
        docs.append(doc)
        if not args.json:
            line = f"{source} [{index}] {len(atoms)} atoms, grid {'×'.join(map(str, shape))}: {pred.seconds:.3f} s"
            if "output" in doc:
                line += f" -> {doc['output']}"
            if pred.sigma is not None:
                line += f", mean σ(ELF) {doc['elf_sigma_mean']:.4f}"
            if pred.out_of_domain:
                line += f"  (OUT OF DOMAIN, score {pred.ood_score:.2f})"
            print(line)
            if args.network:
                net = doc["network"]
                phis = "  ".join(
                    f"{label} {fmt(net[key], 3)}"
                    + (f" ± {fmt(net[key + '_sigma'], 3)}" if key + "_sigma" in net else "")
                    for label, key in (("φ_1D", "phi_1d"), ("φ_2D", "phi_2d"), ("φ_3D", "phi_3d"), ("φ*", "phi_star"))
                )
                print(f"  {phis}  (Morse sum {net['morse_sum']})")
                print(
                    f"  H at ELF ≥ {args.isovalue:g}: H2 {net['h2_fraction']:.0%}, H3 {net['h3_fraction']:.0%}, "
                    f"extended {net['extended_fraction']:.0%}; largest cluster {net['largest_cluster']} H"
                )
    if args.json:
        print_json(docs[0] if len(docs) == 1 else docs)
    return 0
