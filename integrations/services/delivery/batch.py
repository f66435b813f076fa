"""Delivering a batch of messages: one claim, provider calls that overlap, few writes.

A worker that waits for each provider answer in turn delivers almost nothing at real provider
latency (100–500 ms). So a batch (``DELIVERY_BATCH_SIZE`` ids, queued by intake and the sweeper)
is delivered like this:

1. **One claim** for the whole batch (``claim.claim_rows``: one statement on PostgreSQL), one
   lease shared by every claimed row.
2. **Concurrent sends** on a bounded thread pool (``DELIVERY_SEND_CONCURRENCY`` threads per
   worker process, shared by every batch the process runs). Each row goes through the same
   steps as a single delivery (``dispatch.deliver_claimed``: route at send time, breaker, fail
   over, defer, fail). Threads spend their time waiting on provider I/O; the route's rows come
   from the in-process cache (``routing.route_integrations``), so the happy path touches no
   database in a send thread.
3. **Few writes**: successes are written ``sent`` together (``records.record_sent_many``: one
   ``UPDATE`` per flush), flushed as soon as ``FLUSH_SIZE`` are waiting or ``FLUSH_SECONDS`` have
   passed, so a slow send does not hold back the record of the fast ones.

Database connections: a send thread that did need the database (a breaker write, a failure
record, a route-rows refresh) closes its connection when its row is done, so the pool never
holds more connections than it has threads busy on such a row, and none between batches. On
any database but PostgreSQL (the embedded SQLite default) rows are sent one after another on
the calling thread.

A row deferred for a retry is queued again alone (the single-message task, whose retries back
off with jitter); its ``retry_count`` on the row bounds the rounds as before.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Any

from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.db import connection, connections
from django.utils import timezone

from integrations.services.delivery.claim import claim_rows
from integrations.services.delivery.dispatch import (
    DEFERRED,
    DELIVERED,
    NOT_CLAIMED,
    DeliveryDeferred,
    DeliveryOutcome,
    deliver_claimed,
)
from integrations.services.delivery.intake import DELIVER_MESSAGE_TASK
from integrations.services.delivery.records import MESSAGE, Kind, lease_duration, record_sent_many
from integrations.services.queue import enqueue_on_commit

logger = logging.getLogger(__name__)

ERROR = "error"
EXPIRED = "lease_too_short"
FLUSH_SIZE = 100
FLUSH_SECONDS = 0.05

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def send_pool() -> ThreadPoolExecutor:
    """The process's send threads, created on first use (after a prefork worker has forked)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=max(int(settings.DELIVERY_SEND_CONCURRENCY), 1),
                                       thread_name_prefix="delivery-send")
        return _pool


def _deliver_row(kind: Kind, row: Any, in_doubt: bool, lease, *, in_send_thread: bool) -> DeliveryOutcome:
    try:
        if timezone.now() > lease - lease_duration() / 2:
            # Waited too long for a send thread (a saturated pool, slow providers): with less than
            # half its lease left the row could expire mid-send and be taken again elsewhere, so
            # it is not sent here. Unsent, it is claimed again, in doubt, once its lease expires.
            logger.warning("%s %s waited past half its lease for a send thread; left for the next claim",
                           kind.model.__name__, row.pk)
            return DeliveryOutcome(EXPIRED, str(row.pk))
        return deliver_claimed(kind, row, in_doubt=in_doubt, claimed_lease=lease, record_later=True)
    except DeliveryDeferred as exc:
        return DeliveryOutcome(DEFERRED, str(row.pk), detail=str(exc))
    except Exception:
        # The row keeps its lease and is taken again, in doubt, once it expires (the sweeper).
        logger.exception("Delivering %s %s failed unexpectedly", kind.model.__name__, row.pk)
        return DeliveryOutcome(ERROR, str(row.pk))
    finally:
        if in_send_thread:
            connections.close_all()


def deliver_batch(kind: Kind, object_ids: Iterable[Any]) -> dict[str, int]:
    """Deliver what can be claimed of ``object_ids``. Returns how many rows ended how."""
    object_ids = list(object_ids)
    claimed, lease = claim_rows(kind, object_ids, timezone.now())
    counts = {DELIVERED: 0, DEFERRED: 0, "failed": 0, ERROR: 0, NOT_CLAIMED: len(set(map(str, object_ids))) - len(claimed)}
    if not claimed:
        return counts
    retry_counts = {str(row.pk): row.retry_count for row, _ in claimed}
    unrecorded = []
    first_waiting_at = 0.0

    def take(outcome: DeliveryOutcome) -> None:
        nonlocal first_waiting_at
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
        if outcome.unrecorded is not None:
            if not unrecorded:
                first_waiting_at = time.monotonic()
            unrecorded.append(outcome.unrecorded)
        elif outcome.status == DEFERRED and kind is MESSAGE:
            _queue_retry(outcome.object_id, retry_counts[outcome.object_id])

    def flush(force: bool) -> None:
        if unrecorded and (force or len(unrecorded) >= FLUSH_SIZE or time.monotonic() - first_waiting_at >= FLUSH_SECONDS):
            record_sent_many(kind, list(unrecorded), claimed_lease=lease)
            unrecorded.clear()

    concurrency = int(settings.DELIVERY_SEND_CONCURRENCY) if connection.vendor == "postgresql" else 1
    if concurrency <= 1 or len(claimed) == 1:
        for row, in_doubt in claimed:
            take(_deliver_row(kind, row, in_doubt, lease, in_send_thread=False))
            flush(force=False)
    else:
        pool = send_pool()
        # Each row runs in a copy of this task's context (its log scope), not in whatever the
        # pool thread carried from the previous row.
        pending = {
            pool.submit(contextvars.copy_context().run, _deliver_row, kind, row, in_doubt, lease, in_send_thread=True)
            for row, in_doubt in claimed
        }
        while pending:
            done, pending = wait(pending, timeout=FLUSH_SECONDS, return_when=FIRST_COMPLETED)
            for future in done:
                take(future.result())
            flush(force=False)
    flush(force=True)
    return counts


def _queue_retry(object_id: str, retries_before: int) -> None:
    countdown = get_exponential_backoff_interval(
        factor=settings.DELIVERY_RETRY_BACKOFF, retries=retries_before,
        maximum=settings.DELIVERY_RETRY_BACKOFF_MAX, full_jitter=True,
    )
    enqueue_on_commit(DELIVER_MESSAGE_TASK, object_id, countdown=countdown or None)


def deliver_message_batch(*, message_ids: Iterable[Any]) -> dict[str, int]:
    """Deliver a batch of queued messages (see the module docstring)."""
    return deliver_batch(MESSAGE, message_ids)
