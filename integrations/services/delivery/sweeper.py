"""The sweeper (celery beat): queue again what no worker is going to finish."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from integrations.services.delivery.intake import DELIVER_CALL_TASK, schedule_messages
from integrations.services.delivery.records import CALL, MESSAGE, Kind
from integrations.services.queue import enqueue_on_commit


def _stalled(kind: Kind, now: datetime, requeue_after: timedelta):
    return kind.model.objects.filter(
        Q(status=kind.sending, lease_expires_at__lt=now)
        | Q(status=kind.queued, lease_expires_at__lt=now)
        | Q(status=kind.queued, lease_expires_at__isnull=True, created_at__lt=now - requeue_after)
    )


def sweep_stalled(*, now: datetime | None = None, requeue_after: timedelta | None = None, limit: int = 1000) -> dict[str, int]:
    """Queue again what no worker is going to finish.

    Catches rows whose worker died while sending (lease expired), rows whose retry task was
    lost, and rows queued while the broker was down. Each gets a fresh horizon so the next sweep
    does not queue it again while the task waits in the broker; the task's claim makes any
    duplicate harmless. Returns how many of each kind were queued.
    """
    now = now or timezone.now()
    requeue_after = requeue_after or timedelta(seconds=settings.DELIVERY_REQUEUE_AFTER)
    counts = {}
    for kind in (MESSAGE, CALL):
        ids = list(_stalled(kind, now, requeue_after).order_by("created_at").values_list("pk", flat=True)[:limit])
        # Only queued rows get a new horizon; a sending row keeps its expired lease, which is
        # what lets the next claim take it (as in doubt).
        kind.model.objects.filter(pk__in=ids, status=kind.queued).update(lease_expires_at=now + requeue_after)
        if kind is MESSAGE:
            schedule_messages(ids)  # batch tasks
        else:
            for object_id in ids:
                enqueue_on_commit(DELIVER_CALL_TASK, str(object_id))
        counts[kind.model.__name__.lower()] = len(ids)
    return counts
