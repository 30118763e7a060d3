"""Claims on work items, so that several generators can run one dataset's plan side by side.

A generator that starts on an item (an MD trajectory, a crystal's relaxation) first writes the file
``<item>.claim`` beside it, holding the machine's boot id, its process id and when that process
started; the check and the write happen under a lock of the folder (``.claims.lock``), so two
generators never both take one item. Another generator that finds the claim held by a live process
skips the item; a claim whose process is gone (killed, or the machine restarted: another boot id)
is stale and is taken over, so a generation that was stopped resumes by simply starting it again.
Within one process a claim is re-entrant: the generator's claim on a trajectory covers the MD runs
it makes there.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

from geoelf.io.common import atomic_path

BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
LOCK_NAME = ".claims.lock"  # beside the claims of one folder
_held: dict[Path, int] = {}  # claims this process holds, with their nesting depth
_held_by = os.getpid()  # a forked child inherits _held but holds none of it


def _holding() -> dict[Path, int]:
    """This process's claims (emptied in a forked child, which must not release its parent's)."""
    global _held_by
    if _held_by != os.getpid():
        _held.clear()
        _held_by = os.getpid()
    return _held


def claim_path(item: str | Path) -> Path:
    """The claim file of ``item`` (a folder or file, which need not exist yet)."""
    item = Path(item).resolve()
    return item.with_name(item.name + ".claim")


def _this_boot() -> str:
    try:
        return BOOT_ID.read_text().strip()
    except OSError:  # not Linux: pids alone
        return ""


def _started(pid: int) -> str:
    """When process ``pid`` started (clock ticks since boot, from /proc), "" where unknown: with the
    boot id it tells a live holder from a later process that reuses its pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[-1].split()[19]  # field 22, counted after the command name


def _alive(pid: int, started: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        pass
    return not started or _started(pid) in ("", started)


def holder(item: str | Path) -> int | None:
    """The process id of the live process that holds ``item``'s claim, or None (unclaimed or stale)."""
    try:
        held = json.loads(claim_path(item).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(held, dict) or held.get("boot") != _this_boot() or not isinstance(held.get("pid"), int):
        return None
    return held["pid"] if _alive(held["pid"], str(held.get("started", ""))) else None


@contextlib.contextmanager
def _directory_lock(folder: Path) -> Iterator[None]:
    """Exclusive hold of ``folder``'s claims while one process checks and takes one (flock: released
    by the kernel if the process dies)."""
    import fcntl

    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_NAME, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def try_claim(item: str | Path) -> bool:
    """Claim ``item`` for this process: True if it now holds it (or already did), False if a live
    process does. A stale claim is replaced."""
    path, held = claim_path(item), _holding()
    if path in held:
        held[path] += 1
        return True
    with _directory_lock(path.parent):
        if holder(item) is not None:
            return False
        with atomic_path(path) as tmp:
            Path(tmp).write_text(
                json.dumps({"boot": _this_boot(), "pid": os.getpid(), "started": _started(os.getpid())})
            )
    held[path] = 1
    return True


def release(item: str | Path) -> None:
    """Give up one level of this process's claim on ``item``; the file goes with the last."""
    path, held = claim_path(item), _holding()
    if path not in held:
        return
    held[path] -= 1
    if held[path] == 0:
        del held[path]
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


@contextlib.contextmanager
def claimed(item: str | Path) -> Iterator[bool]:
    """``with claimed(item) as mine:`` — whether this process holds ``item`` inside the block
    (released at its end; a claim held already stays held)."""
    mine = try_claim(item)
    try:
        yield mine
    finally:
        if mine:
            release(item)


@atexit.register
def _release_all() -> None:
    """A process that ends normally leaves no claim behind (a killed one leaves a stale claim)."""
    held = _holding()
    for path in list(held):
        with contextlib.suppress(OSError):
            path.unlink()
    held.clear()
