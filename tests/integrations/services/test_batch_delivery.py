"""Batch delivery: one claim (one statement on PostgreSQL, the ORM elsewhere), concurrent sends on
the process's thread pool, ``sent`` written for many rows at once, route rows kept per version.

Tests whose sends run on pool threads use committed data (``transaction=True``): a pool thread
has its own database connection and cannot see a test's open transaction.
"""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from integrations.models import Message
from integrations.services.delivery import batch, claim, intake
from integrations.services.delivery.records import MESSAGE, SentRecord, record_sent_many
from integrations.services.switching import switch_primary
from providers import sandbox
from tests.factories import make_integration

TO = "+5491155550000"
DOWN = {"failure_rate": 1, "failure_mode": "unavailable"}


def queued(organization, n: int = 1, **fields) -> list[Message]:
    return [Message.objects.create(organization=organization, channel="whatsapp", to=TO, body=f"m{i}", **fields)
            for i in range(n)]


@pytest.fixture
def published(monkeypatch):
    from celery import current_app

    sent: list[tuple[str, list, dict]] = []
    monkeypatch.setattr(current_app, "send_task",
                        lambda name, args=None, kwargs=None, **options: sent.append((name, args, options)))
    return sent


def _pg_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]


@pytest.mark.django_db
@pytest.mark.parametrize("single_statement", [True, False], ids=["one statement", "portable ORM"])
def test_a_batch_claim_takes_queued_and_expired_rows_with_one_lease(organization, single_statement):
    now = timezone.now()
    fresh = queued(organization, 2, attempts=[{"outcome": "unavailable", "round": 1}], retry_count=1)
    expired = queued(organization, status=Message.Status.SENDING, lease_expires_at=now - timedelta(seconds=1))[0]
    held = queued(organization, status=Message.Status.SENDING, lease_expires_at=now + timedelta(minutes=1))[0]
    done = queued(organization, status=Message.Status.SENT)[0]
    ids = [m.pk for m in (*fresh, expired, held, done)]

    claimed, lease = claim.claim_rows(MESSAGE, [*ids, "not-a-uuid"], now, single_statement=single_statement)

    assert lease == now + timedelta(seconds=120)
    by_id = {row.pk: (row, in_doubt) for row, in_doubt in claimed}
    assert set(by_id) == {fresh[0].pk, fresh[1].pk, expired.pk}
    assert [by_id[m.pk][1] for m in fresh] == [False, False] and by_id[expired.pk][1] is True
    row = by_id[fresh[0].pk][0]
    # Loaded as the ORM loads a row: JSON decoded, organization attached, the claim applied.
    assert row.attempts == [{"outcome": "unavailable", "round": 1}] and row.retry_count == 1
    assert row.organization == organization and row.body == "m0" and row.to == TO
    assert row.status == "sending" and row.lease_expires_at == lease
    stored = dict(Message.objects.filter(pk__in=ids).values_list("pk", "lease_expires_at"))
    assert {stored[pk] for pk in by_id} == {lease}
    assert stored[held.pk] == held.lease_expires_at
    # A second claim finds nothing left to take.
    assert claim.claim_rows(MESSAGE, ids, now, single_statement=single_statement)[0] == []


@pytest.mark.django_db(transaction=True)
def test_a_batch_sends_concurrently_and_records_in_few_statements(organization, settings):
    settings.DELIVERY_SEND_CONCURRENCY = 16
    primary = make_integration(organization=organization, config={"label": "p", "latency_ms": 100})
    messages = queued(organization, 48)

    started = time.monotonic()
    with CaptureQueriesContext(connection) as queries:
        counts = batch.deliver_message_batch(message_ids=[m.pk for m in messages])
    elapsed = time.monotonic() - started

    assert counts["sent"] == 48 and counts["not_claimed"] == 0
    rows = Message.objects.filter(pk__in=[m.pk for m in messages])
    assert {(r.status, r.integration_id, r.lease_expires_at) for r in rows} == {("sent", primary.pk, None)}
    assert all(r.provider_message_id and r.cost is not None and r.sent_at for r in rows)
    assert sorted(r["client_reference"] for r in sandbox.outbox) == sorted(str(m.pk) for m in messages)
    # One after another this is 48 × 100 ms = 4.8 s; 16 at a time, about 0.3 s.
    assert elapsed < 2.4, elapsed
    # This thread: the claim (one statement), the organizations, and a few flushes of `sent`
    # (one UPDATE each, in its transaction); no statement per message.
    statements = [q["sql"][:60] for q in queries.captured_queries if q["sql"] not in ("BEGIN", "COMMIT")]
    assert statements[0].startswith("WITH claimable AS") and statements[1].startswith("SELECT")
    assert all(sql.startswith('UPDATE "messages"') for sql in statements[2:]), statements
    assert 1 <= len(statements[2:]) <= 8, statements


@pytest.mark.django_db(transaction=True)
def test_fail_over_and_deferral_inside_a_batch_close_their_connections(organization, settings, published):
    settings.DELIVERY_SEND_CONCURRENCY = 8
    settings.BREAKER_FAILURE_THRESHOLD = 1000
    make_integration(organization=organization, display_name="Down", config={"label": "down", **DOWN})
    fallback = make_integration(organization=organization, display_name="Up", config={"label": "up"})
    sendable = queued(organization, 6)
    before = _pg_connections()

    counts = batch.deliver_message_batch(message_ids=[m.pk for m in sendable])

    assert counts["sent"] == 6
    for message in Message.objects.filter(pk__in=[m.pk for m in sendable]):
        assert message.integration_id == fallback.pk
        assert [a["outcome"] for a in message.attempts] == ["unavailable", "sent"]
    # The breaker's failures were written from pool threads, each closing its connection after its row.
    assert _pg_connections() == before

    # Everything down: each row is queued again alone, with a backoff, and stays queued.
    Message.objects.filter(pk__in=[m.pk for m in sendable]).update(status="queued")
    fallback_config = {"label": "up", **DOWN}
    type(fallback).objects.filter(pk=fallback.pk).update(config=fallback_config)
    counts = batch.deliver_message_batch(message_ids=[m.pk for m in sendable])
    assert counts["deferred"] == 6
    retries = [(name, args) for name, args, _ in published if name == "integrations.tasks.deliver_message"]
    assert sorted(args[0] for _, args in retries) == sorted(str(m.pk) for m in sendable)
    assert {m.status for m in Message.objects.filter(pk__in=[m.pk for m in sendable])} == {"queued"}


@pytest.mark.django_db
@pytest.mark.parametrize("single_statement", [True, False], ids=["one statement", "portable ORM"])
def test_sent_is_written_for_many_rows_but_never_over_a_lease_another_worker_took(organization, caplog, single_statement):
    integration = make_integration(organization=organization)
    mine, taken = queued(organization, 2)
    claimed, lease = claim.claim_rows(MESSAGE, [mine.pk, taken.pk], timezone.now())
    # Our lease expired and another worker claimed `taken` again.
    Message.objects.filter(pk=taken.pk).update(lease_expires_at=lease + timedelta(minutes=5))
    attempts = [{"outcome": "sent", "round": 1, "latency_ms": 12}]
    records = [SentRecord(row=row, integration=integration, provider_id=f"p-{row.pk}", result=None, attempts=attempts)
               for row, _ in claimed]
    assert record_sent_many(MESSAGE, records, claimed_lease=lease, single_statement=single_statement) == 1
    written = Message.objects.get(pk=mine.pk)
    assert (written.status, written.integration_id, written.provider_message_id) == ("sent", integration.pk, f"p-{mine.pk}")
    assert (written.cost, written.currency, written.cost_source) == (Decimal("0.005"), "USD", "catalog")
    assert written.attempts == attempts and written.lease_expires_at is None and written.sent_at is not None
    assert written.provider_name == "sandbox_whatsapp" and written.latency_ms is None
    assert Message.objects.get(pk=taken.pk).status == "sending"
    assert "was lost" in caplog.text and str(taken.pk) in caplog.text


@pytest.mark.django_db
def test_route_rows_are_kept_per_route_version(organization, settings, django_capture_on_commit_callbacks):
    settings.DELIVERY_ROUTE_ROWS_MAX_AGE = 60
    settings.DELIVERY_SEND_CONCURRENCY = 1
    first = make_integration(organization=organization, config={"label": "first"})
    second = make_integration(organization=organization, config={"label": "second"})
    batch.deliver_message_batch(message_ids=[m.pk for m in queued(organization, 3)])
    with CaptureQueriesContext(connection) as queries:
        batch.deliver_message_batch(message_ids=[m.pk for m in queued(organization, 3)])
    assert not [q for q in queries.captured_queries if "organization_integrations" in q["sql"]]
    # A switch bumps the route version when it commits: the next delivery reads the new rows.
    with django_capture_on_commit_callbacks(execute=True):
        switch_primary(organization=organization, channel="whatsapp", target=second, actor="system:test")
    message = queued(organization)[0]
    batch.deliver_message_batch(message_ids=[message.pk])
    message.refresh_from_db()
    assert message.integration_id == second.pk
    assert Message.objects.filter(integration=first).count() == 6


@pytest.mark.django_db
def test_intake_queues_batch_tasks_of_the_configured_size(organization, settings, published,
                                                          django_capture_on_commit_callbacks):
    settings.DELIVERY_BATCH_SIZE = 4
    items = [{"to": TO, "body": f"b{i}"} for i in range(10)]
    with django_capture_on_commit_callbacks(execute=True):
        results = intake.send_messages(organization=organization, items=items, actor="system:test")
    batches = [args[0] for name, args, _ in published if name == "integrations.tasks.deliver_message_batch"]
    assert [len(ids) for ids in batches] == [4, 4, 2]
    assert sorted(i for ids in batches for i in ids) == sorted(str(r.message.pk) for r in results)


@pytest.mark.django_db
def test_an_in_doubt_row_in_a_batch_is_reconciled_not_resent(organization, settings):
    settings.DELIVERY_SEND_CONCURRENCY = 1
    integration = make_integration(organization=organization, config={"label": "p"})
    taken, never_got, fresh = queued(organization, 3)
    # A worker sent `taken` and died before recording it; `never_got` it died before sending.
    from providers.values import OutboundMessage

    integration.adapter().send_message(OutboundMessage(to=TO, body="m0", client_reference=str(taken.pk)))
    expired = timezone.now() - timedelta(seconds=1)
    Message.objects.filter(pk__in=[taken.pk, never_got.pk]).update(status="sending", lease_expires_at=expired)

    counts = batch.deliver_message_batch(message_ids=[taken.pk, never_got.pk, fresh.pk])

    assert counts["sent"] == 3
    rows = {m.pk: m for m in Message.objects.filter(pk__in=[taken.pk, never_got.pk, fresh.pk])}
    assert {m.status for m in rows.values()} == {"sent"}
    assert rows[taken.pk].attempts[-1]["outcome"] == "reconciled"
    # Each went to the provider exactly once.
    references = sorted(r["client_reference"] for r in sandbox.outbox)
    assert references == sorted(str(pk) for pk in rows)


@pytest.mark.django_db
def test_a_row_that_waited_past_half_its_lease_is_left_unsent_for_the_next_claim(organization, settings):
    settings.DELIVERY_SEND_CONCURRENCY = 1
    settings.DELIVERY_LEASE_SECONDS = 2
    make_integration(organization=organization, config={"label": "slow", "latency_ms": 1200})
    first, second = queued(organization, 2)

    counts = batch.deliver_message_batch(message_ids=[first.pk, second.pk])

    # The first send took 1.2 s of the 2 s lease: the second row is not sent by this worker,
    # since another could take it again before this one recorded it.
    assert counts["sent"] == 1 and counts[batch.EXPIRED] == 1
    assert [r["client_reference"] for r in sandbox.outbox] == [str(first.pk)]
    second.refresh_from_db()
    assert second.status == "sending" and not second.attempts
