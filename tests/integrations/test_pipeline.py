"""The delivery pipeline end to end with REAL Celery worker processes (not eager mode).

Messages are created by the service in this process and committed; workers in other processes
claim and send them through sandbox providers that record every send to Redis
(``providers.sandbox.RECORD_KEY``), which is what these tests count.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import datetime

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from integrations.models import Message
from integrations.services.delivery.intake import send_message
from integrations.services.switching import switch_primary
from providers import sandbox
from tests.factories import make_integration
from tests.integrations.workers import Worker
from tests.providers.loopback import LoopbackServer, Reply

pytestmark = pytest.mark.slow

TO = "+5491155550000"


@pytest.fixture
def start_worker(transactional_db, tmp_path):
    """Start real workers; every one is stopped at teardown, before the database is flushed."""
    started: list[Worker] = []

    def start(name: str, **kwargs) -> Worker:
        worker = Worker(name=name, log_dir=tmp_path, **kwargs).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def recorder():
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(sandbox.RECORD_KEY, sandbox.REFERENCE_KEY)
    yield client
    client.close()


def recorded_sends(client) -> list[dict]:
    return [json.loads(item) for item in client.lrange(sandbox.RECORD_KEY, 0, -1)]


def wait_for(predicate, *, timeout: float, what: str, poll: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def unsent(organization) -> int:
    return Message.objects.for_org(organization).exclude(status="sent").count()


def sandbox_config(label: str, **extra) -> dict:
    return {"label": label, "record_redis_url": settings.REDIS_URL, **extra}


def send(organization, n: int, body: str = "hi") -> list[Message]:
    return [
        send_message(organization=organization, channel="whatsapp", to=TO, body=f"{body} {i}", actor="system:test")[0]
        for i in range(n)
    ]


def test_failover_inside_one_delivery_when_the_primary_answers_500(organization, start_worker, recorder):
    with LoopbackServer() as meta:
        meta.route("POST", "/v21.0/1234567890/messages",
                   Reply(status=500, json={"error": {"message": "Service temporarily unavailable", "code": 2}}))
        primary = make_integration(
            organization=organization, provider_name="meta_cloud", display_name="Meta",
            config={"phone_number_id": "1234567890", "base_url": meta.url},
            credentials={"access_token": "EAAG-test-token-0123456789", "app_secret": "app-secret-0123456789"},
        )
        fallback = make_integration(organization=organization, display_name="Sandbox", config=sandbox_config("fallback"))
        assert primary.is_primary
        start_worker("failover")

        (message,) = send(organization, 1)
        wait_for(lambda: Message.objects.filter(pk=message.pk, status="sent").exists(), timeout=30, what="the message to be sent")

        message.refresh_from_db()
        assert message.integration_id == fallback.pk
        assert [(a["provider"], a["outcome"]) for a in message.attempts] == [("meta_cloud", "unavailable"), ("sandbox_whatsapp", "sent")]
        assert message.attempts[0]["error_code"] in ("2", "500")
        assert len(meta.requests_to("POST", "/v21.0/1234567890/messages")) >= 1
        assert [r["client_reference"] for r in recorded_sends(recorder)] == [str(message.pk)]


def test_everything_down_is_retried_with_backoff_then_failed_with_every_attempt(organization, start_worker, recorder):
    down = {"failure_rate": 1, "failure_mode": "unavailable"}
    make_integration(organization=organization, display_name="A", config=sandbox_config("a", **down))
    make_integration(organization=organization, display_name="B", config=sandbox_config("b", **down))
    start_worker("all-down", env={
        "DELIVERY_MAX_RETRIES": "3", "DELIVERY_RETRY_BACKOFF": "1", "DELIVERY_RETRY_BACKOFF_MAX": "2",
        "BREAKER_FAILURE_THRESHOLD": "100",
    })

    (message,) = send(organization, 1)
    wait_for(lambda: Message.objects.filter(pk=message.pk, status="failed").exists(), timeout=40, what="the message to fail")

    message.refresh_from_db()
    assert message.retry_count == 3
    assert message.error.startswith("Gave up after 4 rounds")
    assert [(a["round"], a["outcome"]) for a in message.attempts] == [
        (r, "unavailable") for r in (1, 1, 2, 2, 3, 3, 4, 4)
    ]
    rounds_started = [datetime.fromisoformat(a["at"]) for a in message.attempts[::2]]
    assert rounds_started == sorted(rounds_started)
    assert recorded_sends(recorder) == []


def test_hot_swap_under_load_sends_every_message_exactly_once_through_the_current_primary(
    organization, start_worker, recorder, capsys
):
    labels = [f"p{k}" for k in range(5)]
    integrations = [
        make_integration(organization=organization, display_name=label.upper(), config=sandbox_config(label),
                         priority=100 - k)
        for k, label in enumerate(labels)
    ]
    index_of = {row.pk: k for k, row in enumerate(integrations)}
    assert integrations[0].is_primary
    start_worker("hot-swap", pool="prefork", concurrency=2)

    per_epoch, epochs = 100, len(integrations) + 1
    epoch_of: dict[str, int] = {}
    switch_started: list[datetime | None] = [None]
    switch_done: list[datetime | None] = [None]
    started = time.monotonic()
    for epoch in range(epochs):
        if epoch:
            switch_started.append(timezone.now())
            # The last epoch switches back to the first integration: a swap to a former primary.
            target = integrations[epoch % len(integrations)]
            switch_primary(organization=organization, channel="whatsapp", target=target, actor="system:test",
                           reason="hot swap under load")
            switch_done.append(timezone.now())
        for message in send(organization, per_epoch, body=f"epoch {epoch}"):
            epoch_of[str(message.pk)] = epoch
        # Switch again while the worker is still busy with this epoch's tail, so some messages
        # queued under one primary are sent after the next switch (through the new one).
        wait_for(lambda: unsent(organization) <= 25, timeout=60, what="the worker to catch up", poll=0.05)
    total = per_epoch * epochs
    wait_for(lambda: Message.objects.for_org(organization).filter(status="sent").count() == total,
             timeout=120, what=f"{total} messages to be sent")
    elapsed = time.monotonic() - started

    messages = {str(m.pk): m for m in Message.objects.for_org(organization)}
    assert len(messages) == total
    records = recorded_sends(recorder)
    sends_per_message = Counter(r["client_reference"] for r in records)
    duplicates = sum(count - 1 for count in sends_per_message.values() if count > 1)
    lost = len(set(messages) - set(sends_per_message))
    assert duplicates == 0 and lost == 0 and len(records) == total
    by_label = {r["client_reference"]: r["label"] for r in records}

    primary_in_epoch = [integrations[e % len(integrations)].pk for e in range(epochs)]
    wrong_route = 0
    for message_id, message in messages.items():
        assert message.status == "sent"
        assert by_label[message_id] == labels[index_of[message.integration_id]]
        (sent_attempt,) = [a for a in message.attempts if a["outcome"] == "sent"]
        routed_at = datetime.fromisoformat(sent_attempt["routed_at"])
        # The epoch in force when this delivery resolved its route: the last switch committed
        # before it. Between that commit and the next switch's start the route is unambiguous.
        in_force = max(e for e in range(epochs) if e == 0 or switch_done[e] < routed_at)
        next_start = switch_started[in_force + 1] if in_force + 1 < epochs else None
        if next_start is None or routed_at < next_start:
            if message.integration_id != primary_in_epoch[in_force]:
                wrong_route += 1
        # Created after a switch committed → never sent through a primary older than that switch.
        assert in_force >= epoch_of[message_id]
    assert wrong_route == 0
    per_integration = Counter(labels[index_of[m.integration_id]] for m in messages.values())
    # Messages created before a switch and sent after it went through the newer primary.
    carried_over = sum(1 for message_id, m in messages.items() if index_of[m.integration_id] != epoch_of[message_id] % len(integrations))
    with capsys.disabled():
        print(
            f"\n[hot swap] messages={total} switches={epochs - 1} sent={len(records)} duplicates={duplicates} "
            f"lost={lost} misrouted={wrong_route} queued_before_a_switch_sent_after={carried_over} "
            f"elapsed={elapsed:.1f}s per_integration={dict(sorted(per_integration.items()))}"
        )


def test_a_worker_killed_mid_batch_loses_nothing_and_sends_nothing_twice(organization, start_worker, recorder, capsys):
    make_integration(organization=organization, display_name="Only", config=sandbox_config("only", latency_ms=15))
    lease = {"DELIVERY_LEASE_SECONDS": "2", "DELIVERY_REQUEUE_AFTER": "3", "DELIVERY_SWEEP_INTERVAL": "1"}
    first = start_worker("doomed", env=lease)
    total = 150
    messages = send(organization, total)
    wait_for(lambda: Message.objects.for_org(organization).filter(status="sent").count() >= 30,
             timeout=30, what="the first worker to be mid-batch")
    first.kill()
    sent_when_killed = Message.objects.for_org(organization).filter(status="sent").count()
    assert sent_when_killed < total

    # A new worker with the beat schedule: the sweeper re-queues the row the dead worker held.
    start_worker("rescuer", env=lease, beat=True)
    wait_for(lambda: Message.objects.for_org(organization).filter(status="sent").count() == total,
             timeout=60, what="every message to be sent after the restart")

    records = recorded_sends(recorder)
    sends_per_message = Counter(r["client_reference"] for r in records)
    assert set(sends_per_message) == {str(m.pk) for m in messages}
    assert max(sends_per_message.values()) == 1 and len(records) == total
    reconciled = sum(
        1 for m in Message.objects.for_org(organization) if any(a["outcome"] == "reconciled" for a in m.attempts)
    )
    with capsys.disabled():
        print(f"\n[worker kill] messages={total} sent_before_kill={sent_when_killed} sends={len(records)} "
              f"duplicates=0 lost=0 reconciled_in_doubt={reconciled}")
