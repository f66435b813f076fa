"""The benchmark's scenarios. Each returns Measurements; none asserts anything.

They run against the configured PostgreSQL and Redis, in a throwaway organization that is
removed afterwards (its audit events stay, as audit events do).
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from contextlib import contextmanager

from django.conf import settings
from django.core.cache import cache
from django.db import OperationalError, connection, connections, transaction
from django_redis import get_redis_connection

from integrations.benchmarking.stats import Measurement, interleaved, time_calls
from integrations.models import Organization, OrganizationIntegration
from integrations.selectors.integrations import route_ids
from integrations.services import routing
from integrations.services.integrations import integration_create
from integrations.services.switching import switch_primary

ACTOR = "system:benchmark"


@contextmanager
def bench_organization(*, integrations: int = 3, provider_name: str = "sandbox_whatsapp", config: dict | None = None):
    organization = Organization.objects.create(name="Benchmark", slug=f"bench-{uuid.uuid4().hex[:10]}")
    rows = [
        integration_create(
            organization=organization,
            provider_name=provider_name,
            display_name=f"bench {i}",
            config=dict(config or {}, label=f"bench-{i}"),
            status=OrganizationIntegration.Status.ACTIVE,
            actor=ACTOR,
        )
        for i in range(integrations)
    ]
    try:
        yield organization, rows
    finally:
        connections.close_all()
        Organization.objects.filter(pk=organization.pk).delete()


def route_resolution(*, repetitions: int) -> list[Measurement]:
    """Cached resolve vs uncached (PostgreSQL) vs a raw Redis GET vs a raw indexed SQL select."""
    section = "1. route resolution"
    with bench_organization() as (organization, _):
        org_id, channel = organization.pk, "whatsapp"
        routing.resolve(organization_id=org_id, channel=channel)  # warm the cache
        redis = get_redis_connection("default") if settings.REDIS_URL else None
        raw_key = cache.make_key(routing.route_key(org_id, channel))
        sql = (
            "SELECT id FROM organization_integrations WHERE organization_id = %s AND channel = %s "
            "AND status = 'active' ORDER BY is_primary DESC, priority DESC, created_at, id"
        )
        cursor = connection.cursor()

        def raw_sql():
            cursor.execute(sql, [str(org_id), channel])
            cursor.fetchall()

        functions = {
            "resolve (cached)": lambda: routing.resolve(organization_id=org_id, channel=channel),
            "resolve (uncached: PostgreSQL)": lambda: route_ids(org_id, channel),
            "raw indexed SQL select": raw_sql,
        }
        if redis is not None:
            functions["raw Redis GET"] = lambda: redis.get(raw_key)
        samples = interleaved(functions, repetitions=repetitions)
        cursor.close()
    rows = [Measurement(section, name, values) for name, values in samples.items()]
    cached = next(m for m in rows if m.name == "resolve (cached)")
    raw = next((m for m in rows if m.name == "raw Redis GET"), None)
    if raw is not None:
        cached.extra["ratio_to_raw_redis_get"] = round(cached.median_us / raw.median_us, 2)
        cached.extra["target"] = "p50 within 2x of raw Redis GET; p99 < 1000 us"
        cached.extra["target_met"] = cached.median_us <= 2 * raw.median_us and cached.p99_us < 1000
    return rows


def switch_latency(*, repetitions: int) -> list[Measurement]:
    """``switch_primary`` alone, commit included, alternating between two integrations."""
    section = "3. switching"
    with bench_organization(integrations=2) as (organization, rows):
        targets = [rows[1], rows[0]]
        position = {"i": 0}

        def one_switch():
            target = targets[position["i"] % 2]
            position["i"] += 1
            switch_primary(organization=organization, channel="whatsapp", target=target.pk, actor=ACTOR)

        samples = time_calls(one_switch, repetitions=repetitions, warmup=5)
    return [Measurement(section, "switch_primary (commit included)", samples)]


def switch_storm(*, threads: int, switches_per_thread: int) -> list[Measurement]:
    """Many threads switching one (organization, channel) while an observer counts primaries."""
    section = "3. switching"
    with bench_organization(integrations=3) as (organization, rows):
        errors: list[str] = []
        deadlocks = 0
        lock = threading.Lock()
        samples: list[int] = []
        latencies: list[float] = []
        stop = threading.Event()
        barrier = threading.Barrier(threads + 1)

        def worker(seed: int):
            nonlocal deadlocks
            rng = random.Random(seed)
            try:
                barrier.wait()
                for _ in range(switches_per_thread):
                    started = time.perf_counter_ns()
                    try:
                        switch_primary(
                            organization=organization, channel="whatsapp", target=rng.choice(rows).pk, actor=ACTOR
                        )
                    except OperationalError as exc:
                        with lock:
                            if "deadlock" in str(exc).lower():
                                deadlocks += 1
                            errors.append(type(exc).__name__)
                    except Exception as exc:  # noqa: BLE001 - counted, reported
                        with lock:
                            errors.append(type(exc).__name__)
                    with lock:
                        latencies.append((time.perf_counter_ns() - started) / 1000)
            finally:
                connections.close_all()

        def observer():
            try:
                with connection.cursor() as cursor:
                    while not stop.is_set():
                        cursor.execute(
                            "SELECT count(*) FROM organization_integrations WHERE organization_id = %s "
                            "AND channel = 'whatsapp' AND is_primary",
                            [str(organization.pk)],
                        )
                        samples.append(cursor.fetchone()[0])
            finally:
                connections.close_all()

        pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
        watcher = threading.Thread(target=observer)
        watcher.start()
        for thread in pool:
            thread.start()
        barrier.wait()
        started = time.perf_counter()
        for thread in pool:
            thread.join()
        elapsed = time.perf_counter() - started
        stop.set()
        watcher.join()
    total = threads * switches_per_thread
    bad = sum(1 for s in samples if s != 1)
    return [
        Measurement(
            section,
            f"switch storm ({threads} threads x {switches_per_thread})",
            latencies,
            extra={
                "switches": total,
                "switches_per_second": round(total / elapsed, 1),
                "errors": len(errors),
                "deadlocks": deadlocks,
                "observer_samples": len(samples),
                "samples_not_one_primary": bad,
                "target": "0 errors, 0 deadlocks, 0 samples with other than one primary",
                "target_met": not errors and deadlocks == 0 and bad == 0,
            },
        )
    ]


# --------------------------------------------------------------------------- 2. overhead


def abstraction_overhead(*, repetitions: int) -> list[Measurement]:
    """A zero-latency sandbox send, directly vs through the delivery service (claim, route at
    send time, send, record), on pre-created queued rows."""
    from integrations.models import Message
    from integrations.services.delivery import dispatch
    from providers import sandbox
    from providers.values import OutboundMessage

    section = "2. abstraction overhead"
    with bench_organization(integrations=2) as (organization, rows):
        adapter = rows[0].adapter()
        outbound = OutboundMessage(to="+14155550100", body="benchmark")
        messages = Message.objects.bulk_create(
            [Message(organization=organization, channel="whatsapp", to="+14155550100", body="benchmark")
             for _ in range(repetitions + 40)]
        )
        pending = iter(messages)

        def through_service():
            dispatch.deliver_message(message_id=next(pending).pk)

        def direct():
            adapter.send_message(outbound)

        # The floor under any durable pipeline: the service must commit twice (the claim before
        # calling the provider, the result after), so one raw commit is measured beside it.
        cursor = connection.cursor()
        probe = messages[-1].pk

        def raw_commit():
            with transaction.atomic():
                cursor.execute("UPDATE messages SET updated_at = now() WHERE id = %s", [probe])

        samples = interleaved(
            {"sandbox adapter, direct": direct, "through delivery service": through_service,
             "reference: one raw UPDATE + COMMIT": raw_commit},
            repetitions=repetitions,
        )
        cursor.close()
        sandbox.reset_outbox()
        sent = Message.objects.for_org(organization).filter(status="sent").count()
    commit_m = Measurement(section, "reference: one raw UPDATE + COMMIT", samples["reference: one raw UPDATE + COMMIT"])
    direct_m = Measurement(section, "sandbox adapter, direct", samples["sandbox adapter, direct"])
    service_m = Measurement(section, "through delivery service", samples["through delivery service"])
    overhead = service_m.median_us - direct_m.median_us
    service_m.extra.update(
        added_p50_us=round(overhead, 1),
        messages_sent=sent,
        target="under 1000 us added at p50",
        target_met=overhead < 1000,
    )
    return [direct_m, service_m, commit_m]
