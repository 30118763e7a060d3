"""A loaded machine for the benchmarks: one other process spinning on a core (geoelf beside an MD code)."""

from __future__ import annotations

import subprocess
import sys
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def one_busy_process(enabled: bool = True) -> Iterator[None]:
    """While the block runs, keep one Python process busy (an endless loop) when ``enabled``."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if enabled else None
    if proc is not None:
        print("one busy background process is running", flush=True)
    try:
        yield
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
