"""Starting Celery tasks: one way, when the surrounding transaction commits.

A task that looks for a row must never run before that row is visible, and a rolled-back
request must start nothing: so every task is queued by ``transaction.on_commit``. Outside a
transaction (autocommit) it is queued at once.

Tasks are named, not imported: services sit below the tasks module (``integrations.tasks``
imports services), so importing it here would be an import cycle. The registered task's
``apply_async`` is used (not ``send_task``) because it honours ``CELERY_TASK_ALWAYS_EAGER``:
the embedded default (`make run`) runs tasks in-process.

A task the person who started it wants to watch (a migration's execution) is queued with
``beside_request=True``: with eager tasks it then runs in a thread of this process instead of
inside the request, so the page that follows can poll its progress and offer its rollback while
it runs, as it does with a worker.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery import current_app
from django.db import connections, transaction
from kombu.exceptions import OperationalError as KombuOperationalError

logger = logging.getLogger(__name__)


def _run_beside_request(registered, args: list[Any]) -> None:
    try:
        registered.apply(args=args)
    except Exception:  # the task recorded its own failure; the thread must not die silently
        logger.exception("%s%r failed in its thread.", registered.name.rsplit(".", 1)[-1], tuple(args))
    finally:
        connections.close_all()  # this thread's connections only


def enqueue_on_commit(
    task: str, *args: Any, countdown: float | None = None, beside_request: bool = False
) -> None:
    """Queue the registered task ``task`` with ``args`` once the current transaction commits.

    A broker outage does not fail the caller: the outage is logged loudly, and the periodic
    sweeper re-queues whatever it left behind (deliveries stay ``queued``). With
    ``beside_request`` and eager tasks, the task runs in its own thread (see the module's note).
    """

    def publish() -> None:
        try:
            registered = current_app.tasks[task]
        except KeyError:
            logger.error("No Celery task named %s is registered; nothing was queued.", task)
            raise
        if beside_request and registered.app.conf.task_always_eager:
            threading.Thread(
                target=_run_beside_request, args=(registered, [*args]), name=f"eager-{task}", daemon=True
            ).start()
            return
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
        except Exception:
            if not registered.app.conf.task_always_eager:
                raise
            # Eager tasks run inside the request that queued them; what they raise (a delivery
            # deferred for a retry, Celery's Retry) is the task's business, recorded on its
            # row, and must not turn the request that stored the work into a 500.
            logger.warning("%s%r ran in-process and raised; what it stored stands.",
                           task.rsplit(".", 1)[-1], tuple(args), exc_info=True)

    transaction.on_commit(publish)
