"""Machine resources: memory guards (estimate what a grid will need before allocating it, and
refuse what cannot fit) and the threading environment of geoelf's processes.

The estimates are upper bounds measured on this package's own paths (peak resident memory of
``geoelf predict`` and ``analyse`` for 64 atoms on 96³ and 160³ grids, 2,000 atoms on 200³): the
grid kernel's task buffers and the model are a fixed ≈ 0.6 GB, the predicted field 8–16 bytes a point, the
topology analysis (spline table, gradients, percolation order) under 200 bytes a point.
"""

from __future__ import annotations

import os

from geoelf.errors import GeoelfError

FIXED_BYTES = 600 * 2**20  # the grid kernel's task buffers (a grid plane or more a thread), and the model
FIELD_BYTES_PER_POINT = 16  # the predicted field and its copy for writing
TOPOLOGY_BYTES_PER_POINT = 200
PIXEL_BYTES = 200  # a slice plot: sample points, interpolation weights and the image

# OpenMP threads that wait at a barrier sleep instead of spinning: beside one other busy process a
# 64-atom prediction on 2 threads took 0.47 s spinning and 0.31 s passive (quiet: 0.19–0.22 s
# either way). The CLI and screening workers set it before torch loads its OpenMP runtime; a
# user's own value wins.
THREAD_ENVIRONMENT = {"OMP_WAIT_POLICY": "PASSIVE"}


def available_bytes() -> int:
    """Memory the system can give without swapping (MemAvailable), or total memory where unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def prediction_bytes(points: int, topology: bool = False) -> int:
    """Peak bytes of predicting a grid of ``points`` points (and analysing its topology)."""
    return FIXED_BYTES + points * (FIELD_BYTES_PER_POINT + (TOPOLOGY_BYTES_PER_POINT if topology else 0))


def require_memory(
    nbytes: int, what: str, path: str | None = None, limit_gb: float | None = None, advice: str = "use a coarser grid"
) -> None:
    """Raise GeoelfError when ``nbytes`` exceed ``limit_gb`` (if given) or the available memory."""
    limit = int(limit_gb * 2**30) if limit_gb else available_bytes()
    if nbytes > limit:
        source = f"--max-memory {limit_gb:g} GB" if limit_gb else "available memory"
        raise GeoelfError(
            f"{what} needs about {nbytes / 2**30:.3g} GB, more than the {source} ({limit / 2**30:.3g} GB); {advice}",
            path,
        )
