"""One production worker command: `make worker`, docker-compose and the benchmark all run
scripts/worker, and the worker it starts is the configuration the benchmark measured."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_make_docker_compose_and_the_benchmark_run_scripts_worker():
    makefile = (ROOT / "Makefile").read_text()
    target = re.search(r"^worker:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert target and "scripts/worker" in target.group(1)
    compose = (ROOT / "docker-compose.yml").read_text()
    worker_service = compose.split("\n  worker:", 1)[1].split("\n  beat:", 1)[0]
    assert "exec scripts/worker" in worker_service and "celery -A config worker" not in worker_service
    assert '"scripts" / "worker"' in (ROOT / "integrations" / "benchmarking" / "api_e2e.py").read_text()
    assert "make worker" in (ROOT / "README.md").read_text()


def test_scripts_worker_runs_the_measured_pool_and_passes_arguments_through():
    script = (ROOT / "scripts" / "worker").read_text()
    assert (ROOT / "scripts" / "worker").stat().st_mode & 0o111, "scripts/worker must be executable"
    assert re.search(r'--pool "\$\{CELERY_POOL:-threads\}"', script)
    assert re.search(r'--concurrency "\$\{CELERY_CONCURRENCY:-8\}"', script)
    assert script.rstrip().endswith('"$@"') and "-A config worker" in script
