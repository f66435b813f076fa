"""Running connection tests and keeping each integration's health."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from audit import services as audit
from integrations.models import OrganizationIntegration
from integrations.services.routing import invalidate_route
from providers.base import HealthStatus, ProviderHealth

Status = OrganizationIntegration.Status


def integration_test_connection(*, integration: OrganizationIntegration, actor: Any) -> ProviderHealth:
    """Call the provider now, store the health, and activate a pending integration that passes.

    The provider is called outside any transaction: a slow provider must not hold row locks.
    """
    health = integration.adapter().test_connection()
    now = timezone.now()
    with transaction.atomic():
        current = OrganizationIntegration.objects.select_for_update().get(pk=integration.pk)
        previous_health = current.health_status
        current.health_status = health.status.value
        current.health_checked_at = now
        current.health_latency_ms = health.latency_ms
        current.health_detail = health.detail[:2000]
        fields = ["health_status", "health_checked_at", "health_latency_ms", "health_detail", "updated_at"]
        activated = False
        if current.status == Status.PENDING and health.status == HealthStatus.HEALTHY:
            current.status = Status.ACTIVE
            fields.append("status")
            activated = True
        current.save(update_fields=fields)
        if previous_health != current.health_status or activated:
            audit.record(
                action="integration.health_changed" if not activated else "integration.activated",
                actor=actor,
                organization=current.organization,
                target=current,
                before={"health_status": previous_health},
                after={"health_status": current.health_status, "status": current.status, "detail": current.health_detail},
            )
        if activated:
            from integrations.services.integrations import _promote_if_first_active
            from integrations.services.switching import lock_channel_rows

            rows = lock_channel_rows(organization=current.organization, channel=current.channel)
            _promote_if_first_active(current, rows)
            organization_id, channel = current.organization_id, current.channel
            transaction.on_commit(lambda: invalidate_route(organization_id=organization_id, channel=channel))
    integration.refresh_from_db()
    return health
