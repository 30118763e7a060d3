"""How to launch pw.x / pp.x on this machine — kept apart from what is computed (the protocol).

Resolution order for each setting: explicit argument > environment variable > profile file >
default. The profile file is YAML (``GEOELF_PROFILE`` or ``~/.config/geoelf/profile.yaml``)::

    pw: /opt/qe/bin/pw.x
    pp: /opt/qe/bin/pp.x
    mpi: "mpirun -np {n}"      # {n} is replaced by nprocs; "" runs serially
    nprocs: 2
    pseudo_dir: /path/to/pseudos
"""

from __future__ import annotations

import gzip
import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from geoelf.errors import GeoelfError

PSEUDO_H = "H_HSCV_PBE-1.0.UPF"
# Where Debian's quantum-espresso-data ships the gzipped pseudopotential.
_DEBIAN_PSEUDO = Path("/usr/share/doc/quantum-espresso/examples/CPV/EXX-wf-example") / f"{PSEUDO_H}.gz"


@dataclass
class Profile:
    """Launch settings: binaries, MPI command template, core count and pseudopotential folder."""

    pw: str = "pw.x"
    pp: str = "pp.x"
    mpi: str = "mpirun -np {n}"
    nprocs: int = 2
    pseudo_dir: str | None = None

    @classmethod
    def load(cls, path: str | None = None, **overrides: object) -> Profile:
        """Build the profile from file, environment and explicit overrides (None = not given)."""
        values: dict[str, object] = {}
        file = path or os.environ.get("GEOELF_PROFILE") or str(Path.home() / ".config/geoelf/profile.yaml")
        if Path(file).is_file():
            import yaml

            try:
                loaded = yaml.safe_load(Path(file).read_text()) or {}
            except yaml.YAMLError as exc:
                raise GeoelfError(f"profile is not valid YAML ({exc.__class__.__name__})", file) from None
            if not isinstance(loaded, dict):
                raise GeoelfError("profile must be a mapping of settings", file)
            unknown = set(loaded) - set(cls.__dataclass_fields__)
            if unknown:
                raise GeoelfError(f"unknown profile settings: {', '.join(sorted(unknown))}", file)
            values.update(loaded)
        for key in cls.__dataclass_fields__:
            env = os.environ.get(f"GEOELF_{key.upper()}")
            if env is not None:
                values[key] = env
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "nprocs" not in values:
            values["nprocs"] = min(os.cpu_count() or 1, 2)
        profile = cls(**values)  # type: ignore[arg-type]
        profile.nprocs = int(profile.nprocs)
        return profile

    def command(self, binary: str, extra: list[str] | None = None) -> list[str]:
        """The argv that runs ``binary`` (pw.x or pp.x) under MPI."""
        mpi = self.mpi.format(n=self.nprocs).strip()
        argv = shlex.split(mpi) if mpi and self.nprocs > 1 else []
        if argv and Path(argv[0]).name in ("mpirun", "mpiexec") and os.geteuid() == 0:
            if "--allow-run-as-root" not in argv:
                argv.insert(1, "--allow-run-as-root")
        return argv + [binary] + (extra or [])

    def available(self) -> bool:
        """True when pw.x and pp.x can be found."""
        return shutil.which(self.pw) is not None and shutil.which(self.pp) is not None

    def pseudo_folder(self) -> Path:
        """A folder holding H_HSCV_PBE-1.0.UPF, unpacking Debian's gzipped copy once if needed."""
        if self.pseudo_dir:
            folder = Path(self.pseudo_dir)
            if not (folder / PSEUDO_H).is_file():
                raise GeoelfError(f"{PSEUDO_H} not found in pseudo_dir", str(folder))
            return folder
        cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "geoelf" / "pseudo"
        target = cache / PSEUDO_H
        if not target.is_file():
            if not _DEBIAN_PSEUDO.is_file():
                raise GeoelfError(
                    f"{PSEUDO_H} not found: install quantum-espresso-data or set GEOELF_PSEUDO_DIR",
                    str(_DEBIAN_PSEUDO),
                )
            cache.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".tmp")
            tmp.write_bytes(gzip.decompress(_DEBIAN_PSEUDO.read_bytes()))
            os.replace(tmp, target)
        return cache


def run_program(argv: list[str], workdir: Path, stdin_name: str, stdout_name: str, timeout: float | None = None) -> int:
    """Run a QE program with input file ``stdin_name`` in ``workdir``; output to ``stdout_name``."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    with open(workdir / stdout_name, "w") as out:
        proc = subprocess.run(
            [*argv, "-in", stdin_name], cwd=workdir, stdout=out, stderr=subprocess.STDOUT, env=env, timeout=timeout
        )
    return proc.returncode
