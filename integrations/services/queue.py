"""Starting Celery tasks: one way, when the surrounding transaction commits.

A task that looks for a row must never run before that row is visible, and a rolled-back
request must start nothing: so every task is queued by ``transaction.on_commit``. Outside a
transaction (autocommit) it is queued at once.

Tasks are named, not imported: services sit below the tasks module (``integrations.tasks``
imports services), so importing it here would be an import cycle. The registered task's
``apply_async`` is used (not ``send_task``) because it honours ``CELERY_TASK_ALWAYS_EAGER``:
the embedded default (`make run`) runs tasks in-process.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import current_app
from django.db import transaction
from kombu.exceptions import OperationalError as KombuOperationalError

logger = logging.getLogger(__name__)


def enqueue_on_commit(task: str, *args: Any, countdown: float | None = None) -> None:
    """Queue the registered task ``task`` with ``args`` once the current transaction commits.

    A broker outage does not fail the caller: the outage is logged loudly, and the periodic
    sweeper re-queues whatever it left behind (deliveries stay ``queued``).
    """

    def publish() -> None:
        try:
            registered = current_app.tasks[task]
        except KeyError:
            logger.error("No Celery task named %s is registered; nothing was queued.", task)
            raise
        options = {"countdown": countdown} if countdown else {}
        try:
            registered.apply_async(args=[*args], **options)
        except (KombuOperationalError, ConnectionError, OSError) as exc:
            logger.error(
                "Celery broker unreachable (%s): %s%r was not queued; the sweeper will queue it again.",
                type(exc).__name__,
                task.rsplit(".", 1)[-1],
                tuple(args),
            )

    transaction.on_commit(publish)
