"""Many concurrent switches on one (organization, channel): serialized, never two primaries."""

import random
import threading
import time

import pytest
from django.db import connection, connections

from audit.models import AuditEvent
from integrations.services.switching import switch_primary
from tests.factories import make_integration

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 16
SWITCHES_PER_THREAD = 25


def test_sixteen_threads_switching_keep_exactly_one_primary(organization):
    integrations = [make_integration(organization=organization, display_name=f"P{i}") for i in range(3)]
    baseline_audits = AuditEvent.objects.filter(action="provider.switched").count()
    errors: list[BaseException] = []
    effective = []
    effective_lock = threading.Lock()
    samples: list[int] = []
    stop = threading.Event()
    start = threading.Barrier(THREADS + 1)

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        try:
            start.wait()
            for _ in range(SWITCHES_PER_THREAD):
                target = rng.choice(integrations)
                result = switch_primary(
                    organization=organization, channel="whatsapp", target=target.pk, actor=f"system:thread-{seed}"
                )
                if result.switched:
                    with effective_lock:
                        effective.append(result)
        except BaseException as exc:  # noqa: BLE001 - any error fails the test below
            errors.append(exc)
        finally:
            connections.close_all()

    def observer() -> None:
        try:
            with connection.cursor() as cursor:
                while not stop.is_set():
                    cursor.execute(
                        "SELECT count(*) FROM organization_integrations "
                        "WHERE organization_id = %s AND channel = 'whatsapp' AND is_primary",
                        [str(organization.pk)],
                    )
                    samples.append(cursor.fetchone()[0])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    watcher = threading.Thread(target=observer)
    watcher.start()
    for thread in threads:
        thread.start()
    started = time.monotonic()
    start.wait()
    for thread in threads:
        thread.join(timeout=120)
    stop.set()
    watcher.join(timeout=10)

    assert not any(thread.is_alive() for thread in threads), "a switching thread hung (deadlock?)"
    assert errors == []
    assert len(samples) > 10, "the observer barely sampled; the test did not watch the switches"
    assert set(samples) == {1}, f"samples saw primary counts {sorted(set(samples))}"
    switched = AuditEvent.objects.filter(action="provider.switched").count() - baseline_audits
    assert switched == len(effective)
    assert len(effective) > 0
    assert time.monotonic() - started < 120
