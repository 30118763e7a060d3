"""pw.x and pp.x input files from an ASE structure and a protocol."""

from __future__ import annotations

from collections.abc import Mapping

from ase import Atoms

from geoelf.dft.profile import PSEUDO_H
from geoelf.errors import GeoelfError

_MASS = {"H": 1.00794}


def _check_hydrogen(atoms: Atoms) -> None:
    others = sorted(set(atoms.get_chemical_symbols()) - set(_MASS))
    if others:
        raise GeoelfError(f"the DFT protocol covers hydrogen only; found {', '.join(others)}")


def _namelist(name: str, values: Mapping[str, object]) -> str:
    def fmt(v: object) -> str:
        if isinstance(v, bool):
            return ".true." if v else ".false."
        if isinstance(v, str):
            return f"'{v}'"
        if isinstance(v, float):
            return f"{v:.10g}".replace("e", "d")
        return str(v)

    body = "\n".join(f"  {k} = {fmt(v)}" for k, v in values.items())
    return f"&{name}\n{body}\n/\n"


def _structure_cards(atoms: Atoms, kpoints: str, pseudo: str = PSEUDO_H) -> str:
    cell = "\n".join(" ".join(f"{x:.10f}" for x in row) for row in atoms.cell.array)
    pos = "\n".join(
        f"{s} " + " ".join(f"{x:.10f}" for x in p) for s, p in zip(atoms.get_chemical_symbols(), atoms.positions)
    )
    species = "\n".join(f"{s} {_MASS[s]} {pseudo}" for s in sorted(set(atoms.get_chemical_symbols())))
    return (
        f"ATOMIC_SPECIES\n{species}\n\nCELL_PARAMETERS angstrom\n{cell}\n\n"
        f"ATOMIC_POSITIONS angstrom\n{pos}\n\n{kpoints}\n"
    )


def pw_scf_input(atoms: Atoms, protocol, kmesh: tuple[int, int, int], pseudo_dir: str, outdir: str = "./out") -> str:
    """SCF with forces and stress, protocol settings (ELF labels and relaxation steps)."""
    _check_hydrogen(atoms)
    control = {
        "calculation": "scf",
        "prefix": "geoelf",
        "outdir": outdir,
        "pseudo_dir": pseudo_dir,
        "tprnfor": True,
        "tstress": True,
        "disk_io": "low",
    }
    system = {
        "ibrav": 0,
        "nat": len(atoms),
        "ntyp": len(set(atoms.numbers)),
        "ecutwfc": float(protocol.ecutwfc),
        "occupations": "smearing",
        "smearing": protocol.smearing,
        "degauss": float(protocol.degauss),
    }
    if getattr(protocol, "fft_grid", None):
        system.update(zip(("nr1", "nr2", "nr3"), (int(n) for n in protocol.fft_grid)))
    electrons = {
        "conv_thr": float(protocol.conv_thr),
        "mixing_beta": float(protocol.mixing_beta),
        "electron_maxstep": int(protocol.electron_maxstep),
    }
    k = "K_POINTS automatic\n{} {} {} 0 0 0".format(*kmesh)
    return (
        _namelist("CONTROL", control)
        + _namelist("SYSTEM", system)
        + _namelist("ELECTRONS", electrons)
        + _structure_cards(atoms, k, getattr(protocol, "pseudo", PSEUDO_H))
    )


def pw_md_input(atoms: Atoms, settings, temperature: float, nstep: int, pseudo_dir: str, outdir: str = "./out") -> str:
    """Born–Oppenheimer MD segment at Γ with stochastic velocity rescaling at ``temperature`` K."""
    _check_hydrogen(atoms)
    control = {
        "calculation": "md",
        "prefix": "geoelf",
        "outdir": outdir,
        "pseudo_dir": pseudo_dir,
        "dt": float(settings.dt_ry),
        "nstep": int(nstep),
        "disk_io": "low",
        "tprnfor": True,
    }
    system = {
        "ibrav": 0,
        "nat": len(atoms),
        "ntyp": len(set(atoms.numbers)),
        "ecutwfc": float(settings.ecutwfc),
        "occupations": "smearing",
        "smearing": "mv",
        "degauss": float(settings.degauss),
        # a crystal's start is symmetric and the thermostat breaks the symmetry at the first step:
        # pw.x stops ("some of the original symmetry operations not satisfied") unless told not to
        # use it; at Γ and for a fluid's random start it changes nothing
        "nosym": True,
    }
    electrons = {
        "conv_thr": float(settings.conv_thr),
        "mixing_beta": float(settings.mixing_beta),
        "scf_must_converge": False,
        "electron_maxstep": 80,
    }
    ions = {
        "ion_dynamics": "verlet",
        "ion_temperature": "svr",
        "tempw": float(temperature),
        "nraise": int(settings.nraise),
    }
    if settings.extrapolation != "none":
        ions.update(pot_extrapolation=settings.extrapolation, wfc_extrapolation=settings.extrapolation)
    return (
        _namelist("CONTROL", control)
        + _namelist("SYSTEM", system)
        + _namelist("ELECTRONS", electrons)
        + _namelist("IONS", ions)
        + _structure_cards(atoms, "K_POINTS gamma")
    )


def pp_elf_input(fileout: str = "elf.cube", outdir: str = "./out") -> str:
    """pp.x: ELF (plot_num 8) on the full FFT grid as a cube file."""
    return _namelist(
        "INPUTPP", {"prefix": "geoelf", "outdir": outdir, "plot_num": 8, "filplot": "elf.dat"}
    ) + _namelist("PLOT", {"iflag": 3, "output_format": 6, "fileout": fileout})
