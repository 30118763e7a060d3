"""The local Dask cluster that `geoelf screen` starts when no scheduler is given.

Four departures from Dask's defaults, each for a measured reason:

* workers start with SIGINT ignored, so Ctrl-C ends the driver (exit 130) without three worker
  tracebacks; the driver closes the cluster, which ends the workers;
* Dask's own logging stays at WARNING (about 33 INFO lines a run otherwise) unless geoelf runs
  with ``-v``;
* the warning that the scheduler's HTTP port is taken (another cluster on the machine) is not shown;
* ``MALLOC_TRIM_THRESHOLD_`` is not set for workers: with Dask's 64 KiB every frame maps and unmaps
  its large temporaries again (page faults per 12 frames 120 k → 2.03 M, each frame 33 % slower).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

WORKER_MEMORY_GB = 20  # shared out among the local workers


def local_cluster(workers: int):
    """A LocalCluster of ``workers`` single-threaded worker processes, set up as described above."""
    import dask
    from dask.distributed import LocalCluster

    verbose = logging.getLogger().isEnabledFor(logging.INFO)
    level = "info" if verbose else "warning"
    os.environ["DASK_LOGGING__DISTRIBUTED"] = level  # read by each worker process as it starts
    logging.getLogger("distributed").setLevel(logging.INFO if verbose else logging.WARNING)
    from geoelf.resources import THREAD_ENVIRONMENT

    environ = {
        k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ").items() if k != "MALLOC_TRIM_THRESHOLD_"
    }
    environ.update({k: os.environ.get(k, v) for k, v in THREAD_ENVIRONMENT.items()})
    settings = dask.config.set({"distributed.nanny.pre-spawn-environ": environ})
    with settings, _sigint_ignored(), warnings.catch_warnings():
        # a second screening on the machine finds the scheduler's HTTP port taken and serves on another:
        # nothing the user needs to hear about
        warnings.filterwarnings("ignore", message="Port .* is already in use", category=UserWarning)
        # silence_logs: a worker's heartbeat racing the scheduler's shutdown logs a traceback that
        # means nothing; task failures still reach us through the futures
        return LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            memory_limit=f"{max(1, WORKER_MEMORY_GB // workers)}GiB",
            silence_logs=logging.INFO if verbose else logging.CRITICAL,
        )


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while worker processes are spawned: they inherit the disposition, and Python
    leaves an inherited SIG_IGN in place. Only the main thread may change signal handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
