"""The Celery tasks' contract: worker-safety options, beat schedule, one health run at a time."""

from __future__ import annotations

import pytest
from celery import current_app
from django.conf import settings
from django.core.cache import cache

from integrations import tasks
from integrations.services import health
from integrations.services.delivery.dispatch import DeliveryDeferred
from tests.factories import make_integration


@pytest.mark.parametrize("task", [tasks.deliver_message, tasks.deliver_call])
def test_delivery_tasks_survive_lost_workers_and_retry_with_jittered_backoff(task):
    assert task.acks_late is True and task.reject_on_worker_lost is True
    assert task.autoretry_for == (DeliveryDeferred,)
    assert task.retry_backoff == settings.DELIVERY_RETRY_BACKOFF
    assert task.retry_backoff_max == settings.DELIVERY_RETRY_BACKOFF_MAX
    assert task.retry_jitter is True


def test_every_beat_entry_names_a_registered_task():
    current_app.loader.import_default_modules()
    names = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"integrations.tasks.run_health_checks", "integrations.tasks.sweep_stalled_deliveries"} <= names
    assert names <= set(current_app.tasks)
    assert settings.CELERY_BEAT_SCHEDULE["health-checks"]["schedule"] == 60.0


@pytest.mark.django_db
def test_a_health_run_is_skipped_while_another_holds_the_lock(organization):
    integration = make_integration(organization=organization)
    cache.set(health.HEALTH_RUN_LOCK, "1", timeout=60)
    assert tasks.run_health_checks() == 0
    integration.refresh_from_db()
    assert integration.health_checked_at is None
    cache.delete(health.HEALTH_RUN_LOCK)
    assert tasks.run_health_checks() == 1
    integration.refresh_from_db()
    assert integration.health_checked_at is not None
    assert cache.get(health.HEALTH_RUN_LOCK) is None
