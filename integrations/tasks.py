"""Celery tasks: thin wrappers that call one service each.

Delivery tasks are ``acks_late`` with ``reject_on_worker_lost``: a task whose worker dies is
handed to another worker, and the row's claim (``dispatch``) makes a second run harmless. Rows
whose task is lost altogether are queued again by ``sweep_stalled_deliveries`` (beat).

Retries use Celery's own options: ``autoretry_for`` the service's ``DeliveryDeferred`` with
exponential backoff (``DELIVERY_RETRY_BACKOFF`` × 2^n seconds, capped at
``DELIVERY_RETRY_BACKOFF_MAX``) and full jitter. The service counts rounds on the row and
marks it ``failed`` after ``DELIVERY_MAX_RETRIES`` retries, so the task's own limit is only a
backstop.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from integrations.services import call_control, health, media, notifications
from integrations.services.delivery import batch, dispatch, sweeper
from integrations.services.migration.execution import migration_execute
from integrations.services.policies import jobs as policy_jobs

_DELIVERY_TASK_OPTIONS = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (dispatch.DeliveryDeferred,),
    "retry_backoff": settings.DELIVERY_RETRY_BACKOFF,
    "retry_backoff_max": settings.DELIVERY_RETRY_BACKOFF_MAX,
    "retry_jitter": True,
    "max_retries": settings.DELIVERY_MAX_RETRIES + 1,
}


@shared_task(name="integrations.tasks.deliver_message", **_DELIVERY_TASK_OPTIONS)
def deliver_message(self, message_id: str) -> str:
    return dispatch.deliver_message(message_id=message_id).status


@shared_task(name="integrations.tasks.deliver_message_batch", acks_late=True, reject_on_worker_lost=True)
def deliver_message_batch(message_ids: list[str]) -> dict[str, int]:
    """Many messages, sent concurrently; a row to retry is queued again alone (``deliver_message``)."""
    return batch.deliver_message_batch(message_ids=message_ids)


@shared_task(name="integrations.tasks.deliver_call", **_DELIVERY_TASK_OPTIONS)
def deliver_call(self, call_id: str) -> str:
    return dispatch.deliver_call(call_id=call_id).status


@shared_task(name="integrations.tasks.sweep_stalled_deliveries", acks_late=True)
def sweep_stalled_deliveries() -> dict[str, int]:
    return sweeper.sweep_stalled()


@shared_task(name="integrations.tasks.run_policy_jobs", acks_late=True)
def run_policy_jobs() -> dict[str, int]:
    return policy_jobs.run_policy_jobs()


@shared_task(name="integrations.tasks.run_health_checks", acks_late=True)
def run_health_checks() -> int:
    return len(health.run_health_checks_exclusively())


@shared_task(
    bind=True,
    name="integrations.tasks.send_notification_webhook",
    acks_late=True,
    autoretry_for=(notifications.NotificationWebhookFailed,),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=settings.NOTIFICATION_WEBHOOK_MAX_RETRIES,
)
def send_notification_webhook(self, organization_id: str, payload: dict) -> int:
    return notifications.deliver_notification_webhook(
        organization_id=organization_id,
        payload=payload,
        final_attempt=self.request.retries >= self.max_retries,
    )


@shared_task(name="integrations.execute_provider_migration", acks_late=True)
def execute_provider_migration(migration_id: str) -> str:
    """Step 4 of the wizard: the service runs the steps, records progress and rolls back a
    half-done switch."""
    return migration_execute(migration_id=migration_id).state


@shared_task(
    bind=True,
    name="integrations.tasks.continue_call",
    acks_late=True,
    autoretry_for=(call_control.CallStepDeferred,),
    retry_backoff=1,
    retry_backoff_max=8,
    retry_jitter=True,
    max_retries=3,
)
def continue_call(self, organization_id: str, integration_id: str, kind: str, provider_call_id: str, raw: dict) -> bool:
    return call_control.call_continue(
        organization_id=organization_id, integration_id=integration_id, kind=kind, provider_call_id=provider_call_id, raw=raw
    )



@shared_task(
    name="integrations.tasks.download_inbound_media",
    acks_late=True,
    autoretry_for=(media.MediaDeferred,),
    retry_backoff=5,
    retry_backoff_max=120,
    retry_jitter=True,
    max_retries=5,
)
def download_inbound_media(organization_id: str, message_id: str) -> int:
    return media.media_download_inbound(organization_id=organization_id, message_id=message_id)
