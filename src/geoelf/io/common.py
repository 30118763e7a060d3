"""Helpers shared by the format modules: opening (.gz), number parsing, unit constants."""

from __future__ import annotations

import gzip
import io
import os
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from geoelf.errors import GeoelfError
from geoelf.units import BOHR  # noqa: F401  (re-exported for the format modules)


def base_name(path: str | os.PathLike) -> str:
    """File name without a trailing .gz, lower case."""
    name = Path(path).name
    return (name[:-3] if name.lower().endswith(".gz") else name).lower()


def file_stem(path: str | os.PathLike) -> str:
    """File name without .gz and without its last suffix ('a_rs1.45.extxyz' → 'a_rs1.45')."""
    name = Path(path).name
    if name.lower().endswith(".gz"):
        name = name[:-3]
    return Path(name).stem or name


def read_bytes(path: str | os.PathLike) -> bytes:
    """Whole file, decompressed when it is gzip (by magic number, not only by name)."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise GeoelfError("no such file", str(path)) from None
    except IsADirectoryError:
        raise GeoelfError("is a directory, not a file", str(path)) from None
    except OSError as exc:
        raise GeoelfError(f"cannot read file ({exc.strerror})", str(path)) from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise GeoelfError(f"corrupt or truncated gzip data ({exc})", str(path)) from None
    if not raw.strip():
        raise GeoelfError("file is empty", str(path))
    return raw


def read_text(path: str | os.PathLike) -> str:
    """Whole file as text; binary content is an error."""
    raw = read_bytes(path)
    if b"\x00" in raw[:65536]:
        raise GeoelfError("binary data where a text file was expected", str(path))
    return raw.decode("latin-1")


def parse_floats(tokens: list[str] | str, what: str, path: str) -> np.ndarray:
    """Tokens → float64 array; Fortran 'D' exponents accepted; garbage is a GeoelfError."""
    if isinstance(tokens, str):
        tokens = tokens.split()
    try:
        values = np.array(tokens, dtype=np.float64)
    except ValueError:
        joined = " ".join(tokens).replace("D", "E").replace("d", "e")
        try:
            values = np.array(joined.split(), dtype=np.float64)
        except ValueError:
            bad = next((t for t in tokens if not _is_float(t)), "?")
            raise GeoelfError(f"{what}: {bad[:20]!r} is not a number", path) from None
    return values


def parse_ints(tokens: list[str], what: str, path: str) -> list[int]:
    """Tokens → ints, with a GeoelfError naming what was expected."""
    try:
        return [int(t) for t in tokens]
    except ValueError:
        raise GeoelfError(f"{what}: expected integers, got {' '.join(tokens)[:40]!r}", path) from None


def _is_float(token: str) -> bool:
    try:
        float(token.replace("D", "E").replace("d", "e"))
        return True
    except ValueError:
        return False


def check_finite(values: np.ndarray, path: str) -> None:
    if not np.all(np.isfinite(values)):
        raise GeoelfError("grid contains NaN or infinite values", path)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """A temporary file name beside ``path``, renamed over ``path`` only when the block succeeds.

    A crash or an error never leaves a half-written file under the final name; the temporary
    file is named ``.NAME.*.tmp`` so that readers and git (``*.tmp``) pass it over.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield tmp
        set_default_mode(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


@contextmanager
def atomic_output(path: str | os.PathLike, mode: str = "w") -> Iterator:
    """An open file that appears under ``path`` only when complete; '.gz' names are compressed."""
    binary = "b" in mode
    with atomic_path(path) as tmp:
        if not str(path).lower().endswith(".gz"):
            with open(tmp, "wb" if binary else "w") as handle:
                yield handle
            return
        # no time stamp or temp-file name in the gzip header: the same content gives the same bytes
        with (
            open(tmp, "wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0) as zipped,
        ):
            if binary:
                yield zipped
            else:
                with io.TextIOWrapper(zipped) as text:
                    yield text


def set_default_mode(path: str | os.PathLike) -> None:
    """Give a temporary file (mkstemp makes them 0600) the usual permissions under the umask."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def fix_qe_elf(elf: np.ndarray) -> np.ndarray:
    """Undo the non-spin-polarised ELF normalisation bug of QE 6.8–7.5 (QE issue 819).

    ELF_ok = 1 / (1 + 2^(4/3) (1/ELF − 1)); ELF = 0 maps to 0 and ELF = 1 to 1.
    """
    elf = np.clip(np.asarray(elf, dtype=np.float64), 0.0, 1.0)
    out = np.zeros_like(elf)
    pos = elf > 0
    out[pos] = 1.0 / (1.0 + 2.0 ** (4.0 / 3.0) * (1.0 / elf[pos] - 1.0))
    return out
