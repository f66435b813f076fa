"""Real Celery worker processes for pipeline tests.

A worker is ``celery -A config worker`` in its own process group, pointed at the test database
(pytest-django's ``test_<name>``) and this run's Redis. It is bounded in time: start waits for
"ready" at most ``START_TIMEOUT`` seconds, stop escalates from SIGTERM to SIGKILL, and the
fixture stops every worker it started even when the test fails.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

BASE_DIR = Path(settings.BASE_DIR)
START_TIMEOUT = 40.0


def database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Worker:
    def __init__(self, *, name: str, log_dir: Path, env: dict[str, str] | None = None,
                 pool: str = "solo", concurrency: int = 1, beat: bool = False):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "HEALTH_CHECK_INTERVAL": "3600",
            "LOG_LEVEL": "WARNING",
            **(env or {}),
        }
        self.command = [
            sys.executable, "-m", "celery", "-A", "config", "worker", "-l", "info", "-n", f"{name}@%h",
            "--pool", pool, "--concurrency", str(concurrency),
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]
        if beat:
            self.command += ["-B", "-s", str(log_dir / f"{name}-beat-schedule")]
        self.process: subprocess.Popen | None = None

    def start(self) -> Worker:
        log = open(self.log_path, "ab")  # noqa: SIM115 (the child owns it until it exits)
        self.process = subprocess.Popen(
            self.command, cwd=BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker {self.name} exited at start:\n{self.log_tail()}")
            if b" ready." in self.log_path.read_bytes():
                return self
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"worker {self.name} not ready after {START_TIMEOUT}s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown, no acks, like a crashed host."""
        self._signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=10)

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self._signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        # Pool children of a prefork worker share the group; make sure none outlive it.
        self._signal(signal.SIGKILL)

    def _signal(self, signum: int) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signum)
        except ProcessLookupError:
            pass

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""
