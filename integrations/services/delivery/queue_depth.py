"""Back-pressure at intake: an organization's queue of undelivered messages has a depth limit.

When the messages an organization has waiting (``queued`` or ``sending``) would pass
``MESSAGE_QUEUE_DEPTH_LIMIT``, intake refuses new ones with ``QueueFull`` (the API answers 429
with ``Retry-After: MESSAGE_QUEUE_RETRY_AFTER``) instead of letting the queue grow without
bound. 0 turns the limit off.

The count is bounded (it never reads more than the limit's worth of index entries, through the
partial index ``message_org_waiting_idx``) and kept in process for
``MESSAGE_QUEUE_DEPTH_CACHE_SECONDS``: an intake at hundreds of messages per second must not
count a large queue on every request. Between counts, every message this process queued is
added to the kept figure, so the estimate errs towards refusing, never towards growing.
"""

from __future__ import annotations

import threading
import time

from django.conf import settings
from django.utils.translation import gettext as _

from integrations.errors import ServiceError
from integrations.models import Message, Organization

_WAITING = (Message.Status.QUEUED, Message.Status.SENDING)
_lock = threading.Lock()
_counted: dict[str, tuple[float, int]] = {}  # organization id -> (monotonic time counted, depth)


class QueueFull(ServiceError):
    code = "queue_full"

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


def waiting_messages(*, organization: Organization, at_most: int) -> int:
    """How many of the organization's messages wait for delivery, counting at most ``at_most``."""
    return (
        Message.objects.for_org(organization).filter(status__in=_WAITING).values("pk")[:at_most].count()
    )


def check(*, organization: Organization, adding: int) -> None:
    """Raise ``QueueFull`` when ``adding`` more messages would pass the organization's limit."""
    limit = int(settings.MESSAGE_QUEUE_DEPTH_LIMIT)
    if limit <= 0:
        return
    key = str(organization.pk)
    now = time.monotonic()
    with _lock:
        counted_at, depth = _counted.get(key, (-1e9, 0))
    if now - counted_at >= settings.MESSAGE_QUEUE_DEPTH_CACHE_SECONDS:
        depth = waiting_messages(organization=organization, at_most=limit + 1)
        with _lock:
            _counted[key] = (now, depth)
    if depth + adding > limit:
        raise QueueFull(
            _("%(depth)s messages are waiting for delivery; the limit is %(limit)s. Try again later.")
            % {"depth": depth, "limit": limit},
            retry_after=int(settings.MESSAGE_QUEUE_RETRY_AFTER),
        )


def added(*, organization: Organization, count: int) -> None:
    """This process queued ``count`` more: keep the estimate pessimistic until the next count."""
    key = str(organization.pk)
    with _lock:
        if key in _counted:
            counted_at, depth = _counted[key]
            _counted[key] = (counted_at, depth + count)
