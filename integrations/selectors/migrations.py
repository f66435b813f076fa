"""Reads of an organization's provider migrations (the wizard, its history, its audit trail)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.models import AuditEvent
from integrations.errors import NotFound
from integrations.models import Organization, ProviderMigration

State = ProviderMigration.State


def open_migration(*, organization: Organization, channel: str) -> ProviderMigration | None:
    return (
        ProviderMigration.objects.for_org(organization)
        .filter(channel=channel, state__in=ProviderMigration.OPEN_STATES)
        .select_related("source", "target")
        .first()
    )


def migration_get(*, organization: Organization, migration_id: UUID | str, channel: str | None = None) -> ProviderMigration:
    """One migration of this organization (and of ``channel`` when given), else ``NotFound``."""
    queryset = ProviderMigration.objects.for_org(organization).select_related("organization", "source", "target")
    if channel is not None:
        queryset = queryset.filter(channel=channel)
    try:
        return queryset.get(pk=migration_id)
    except (ProviderMigration.DoesNotExist, ValueError, ValidationError):
        raise NotFound(_("No such migration for this organization.")) from None


def migration_history(*, organization: Organization, limit: int = 200) -> QuerySet[ProviderMigration]:
    return (
        ProviderMigration.objects.for_org(organization)
        .select_related("source", "target", "created_by")
        .order_by("-created_at")[:limit]
    )


def migration_success_rate(*, organization: Organization, days: int = 90, now=None) -> dict[str, Any]:
    """Migrations that finished executing in the last ``days`` days, rollbacks counted as
    rollbacks: ``succeeded`` ran to completion (including those rolled back afterwards),
    ``failed`` stopped on an error, ``rolled_back`` were rolled back by a person (during the run or
    after it). The rate is succeeded ÷ (succeeded + failed): a rollback is a choice, not a failure.
    None when nothing ran."""
    since = (now or timezone.now()) - timedelta(days=days)
    finished = (
        ProviderMigration.objects.for_org(organization)
        .filter(finished_at__gte=since, state__in=[State.COMPLETED, State.FAILED, State.ROLLED_BACK])
        .only("state", "log")
    )
    counts = {"completed": 0, "failed": 0, "rolled_back": 0, "rolled_back_after_completion": 0}
    for migration in finished:
        if migration.state == State.COMPLETED:
            counts["completed"] += 1
        elif migration.state == State.FAILED:
            counts["failed"] += 1
        else:
            counts["rolled_back"] += 1
            if any(entry.get("step") == "done" for entry in migration.log or []):
                counts["rolled_back_after_completion"] += 1
    succeeded = counts["completed"] + counts["rolled_back_after_completion"]
    ran = succeeded + counts["failed"]
    return {
        "days": days,
        "total": counts["completed"] + counts["failed"] + counts["rolled_back"],
        **counts,
        "succeeded": succeeded,
        "ran": ran,
        "rate": (succeeded * 100.0 / ran) if ran else None,
    }


def migration_audit_events(*, migration: ProviderMigration) -> QuerySet[AuditEvent]:
    """The migration's own events and the switches it made, oldest first."""
    return (
        AuditEvent.objects.for_org(migration.organization)
        .filter(Q(target_id=str(migration.pk)) | Q(action="provider.switched", reason__contains=str(migration.pk)))
        .order_by("created_at")
    )
