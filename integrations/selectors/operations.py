"""What an operator watches that no single process knows: open breakers, waiting deliveries,
queue depths. Read when Prometheus scrapes ``/metrics``."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db.models import Count

from integrations.models import Call, Message, OrganizationIntegration

logger = logging.getLogger(__name__)

# A scrape must answer quickly even when the broker does not.
BROKER_TIMEOUT_SECONDS = 1.0


def open_breaker_counts(*, now: datetime) -> dict[tuple[str, str], int]:
    """(channel, provider name) → integrations whose circuit breaker is open at ``now``."""
    rows = (
        OrganizationIntegration.objects.filter(breaker_open_until__gt=now)
        .values("channel", "provider_name")
        .annotate(count=Count("id"))
    )
    return {(row["channel"], row["provider_name"]): row["count"] for row in rows}


def waiting_delivery_counts() -> dict[str, int]:
    """Messages and calls queued for delivery, retries included (across every organization)."""
    return {
        "message": Message.objects.filter(status=Message.Status.QUEUED).count(),
        "call": Call.objects.filter(status=Call.Status.QUEUED).count(),
    }


def broker_queue_depths() -> dict[str, int] | None:
    """Celery queue name → tasks waiting in the broker; None when there is no broker (eager
    tasks) or it cannot be read."""
    from celery import current_app

    if current_app.conf.task_always_eager:
        return None
    from kombu.exceptions import ChannelError

    names = list(current_app.amqp.queues.keys()) or [current_app.conf.task_default_queue]
    depths: dict[str, int] = {}
    try:
        with current_app.connection_for_read() as connection:
            connection.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)
            for name in names:
                # A channel per queue: a passive declare of a queue that does not exist (Redis
                # drops an empty list) is an error that closes the channel on AMQP brokers.
                channel = connection.channel()
                try:
                    depths[name] = channel.queue_declare(queue=name, passive=True).message_count
                except ChannelError:
                    depths[name] = 0
                finally:
                    channel.close()
    except Exception as exc:
        logger.warning("Metrics: could not read the broker's queue depths (%s).", type(exc).__name__)
        return None
    return depths
