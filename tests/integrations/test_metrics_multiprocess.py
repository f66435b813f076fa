"""Multiprocess mode: what real Celery worker processes count is what /metrics serves.

A prefork worker (a main process and two pool children) writes its samples to files under its own
``PROMETHEUS_MULTIPROC_DIR``; this process, as the web would, merges that directory's files.
"""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from integrations.models import Message
from integrations.services.delivery.intake import send_message
from tests.factories import make_integration
from tests.integrations.test_pipeline import wait_for
from tests.integrations.workers import Worker

pytestmark = pytest.mark.slow

TOKEN = "scrape-token-0123456789"


def delivered(text: str, provider: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "switchboard_deliveries_total" and sample.labels.get("provider") == provider \
                    and sample.labels.get("outcome") == "sent":
                return sample.value
    return 0.0


@pytest.fixture
def worker_with_metrics(transactional_db, tmp_path):
    """A prefork worker writing its metrics under ``tmp_path/worker-metrics``; always stopped."""
    started: list[Worker] = []

    def start(directory) -> Worker:
        worker = Worker(name="metrics", log_dir=tmp_path, pool="prefork", concurrency=2,
                        env={"PROMETHEUS_MULTIPROC_DIR": str(directory)})
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        worker.stop()


def test_deliveries_counted_in_pool_processes_are_served_merged(organization, worker_with_metrics, client, settings, tmp_path):
    directory = tmp_path / "worker-metrics"
    stale = directory / "counter_999999.db"
    directory.mkdir()
    stale.write_bytes(b"left over from a previous run")
    make_integration(organization=organization, display_name="Primary", config={"label": "p"})
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_COLLECT_DIRS = [str(directory)]

    worker_with_metrics(directory)
    assert not stale.exists(), "the worker's start empties its metrics directory"
    messages = [
        send_message(organization=organization, channel="whatsapp", to="+5491155550000", body=f"m{i}", actor="system:test")[0]
        for i in range(6)
    ]
    ids = [m.pk for m in messages]
    wait_for(lambda: Message.objects.filter(pk__in=ids, status="sent").count() == len(ids), timeout=60,
             what="every message to be sent")

    files = sorted(p.name for p in directory.glob("*.db"))
    assert files, "the pool processes wrote their samples to files"
    text = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    assert delivered(text, "sandbox_whatsapp") == len(ids)
    # The web's own in-process registry is not what is served in this mode.
    assert "process_cpu_seconds_total" not in text
