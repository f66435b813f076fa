"""The lifecycle of ``PROMETHEUS_MULTIPROC_DIR`` for the process trees that own one.

prometheus-client's multiprocess mode keeps each process's samples in files named by pid. The
parent of a tree (the gunicorn master, the Celery worker's main process) empties its directory
before it forks, so a restart does not add the previous run's counts to a reused pid's file;
and marks each child that exits, so its live gauges stop counting. Give every process tree its
own directory: two trees sharing one would wipe each other's files.
"""

from __future__ import annotations

import os
from pathlib import Path


def directory() -> Path | None:
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(path) if path else None


def prepare() -> None:
    """Create the directory, or empty it of a previous run's files."""
    path = directory()
    if path is None:
        return
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink(missing_ok=True)


def process_exited(pid: int) -> None:
    if directory() is not None:
        # Imported here, not at the top: prometheus-client reads PROMETHEUS_MULTIPROC_DIR when
        # first imported, which must come after settings have read .env.
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
