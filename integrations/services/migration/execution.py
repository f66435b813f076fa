"""Executing a provider migration (the wizard's step 4) and rolling it back.

Execution runs in a Celery task (``integrations.tasks.execute_provider_migration``) through
``migration_execute``: validate → setup → verify health → ``switch_primary`` → verify the route
serves the new primary → done. Each step writes progress and a timed log entry and is audited.
Rollback switches back through the same ``switch_primary``. Every step re-reads the migration
under a row lock, so a rollback that lands while the task runs stops it at the next step.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from integrations.errors import OperationRefused, ServiceError, SwitchRefused
from integrations.models import OrganizationIntegration, ProviderMigration
from integrations.services import notifications
from integrations.services.health import integration_test_connection
from integrations.services.migration.cleanup import remove_unused_created
from integrations.services.migration.state import (
    SYSTEM_ACTOR,
    audit_migration,
    locked,
    log_step,
    refuse_when_disabled,
    rollback_window,
)
from integrations.services.routing import resolve
from integrations.services.switching import switch_primary
from providers.errors import ProviderError

State = ProviderMigration.State


class _Stopped(Exception):
    """The migration left ``executing`` (rolled back or failed elsewhere) while the task ran."""


@contextmanager
def _executing(migration_id) -> Iterator[ProviderMigration]:
    """The migration, locked, in a transaction; ``_Stopped`` once it is no longer executing (a
    rollback landed), so no step runs after it."""
    with transaction.atomic():
        current = locked(migration_id)
        if current.state != State.EXECUTING:
            raise _Stopped()
        yield current


def _step(migration_id, *, step: str, progress: int, detail: str, actor: Any, reason: str = "") -> None:
    with _executing(migration_id) as current:
        current.progress = progress
        log_step(current, step=step, outcome="ok", detail=detail)
        current.save(update_fields=["progress", "log", "updated_at"])
        audit_migration(current, action=f"step.{step}", actor=actor, reason=reason or detail)


def _fail(
    migration_id,
    *,
    step: str,
    message: str,
    actor: Any,
    switched_back_to: OrganizationIntegration | None = None,
) -> None:
    with transaction.atomic():
        current = locked(migration_id)
        if current.state != State.EXECUTING:
            return
        current.state = State.FAILED
        current.error = message
        current.finished_at = timezone.now()
        log_step(current, step=step, outcome="failed", detail=message)
        if switched_back_to is not None:
            log_step(
                current,
                step="switch_back",
                outcome="ok",
                detail=f"'{switched_back_to.display_name}' is primary again.",
            )
        current.save()
        audit_migration(current, action="failed", actor=actor, outcome="failure", reason=message)
        notifications.notify(
            organization=current.organization,
            event=notifications.MIGRATION_FAILED,
            summary=f"The {current.channel} provider migration failed at '{step}': {message}",
            data={
                "migration": str(current.pk),
                "channel": current.channel,
                "step": step,
                "switched_back_to": str(switched_back_to.pk) if switched_back_to else None,
            },
        )


def migration_execute(*, migration_id: UUID | str) -> ProviderMigration:
    """Run the execution steps (the Celery task calls this). Safe to call again: a migration that
    is no longer executing is left alone."""
    migration = ProviderMigration.objects.select_related(
        "organization", "source", "target", "created_by"
    ).get(pk=migration_id)
    if migration.state != State.EXECUTING:
        return migration
    organization, channel = migration.organization, migration.channel
    actor = migration.created_by or SYSTEM_ACTOR
    reason = f"migration {migration.pk}"
    step = "validate"
    switched = False
    try:
        refuse_when_disabled()
        target = migration.target
        if target is None or target.organization_id != organization.pk or target.channel != channel:
            raise OperationRefused(
                "The target integration no longer exists in this channel.", code="target_missing"
            )
        target.provider_class().validate_config(target.config, target.credentials)
        _step(
            migration.pk,
            step=step,
            progress=20,
            detail=f"'{target.display_name}' is configured.",
            actor=actor,
        )

        step = "setup"
        target.adapter().setup()
        _step(migration.pk, step=step, progress=40, detail="Provider side ready.", actor=actor)

        step = "verify_health"
        health = integration_test_connection(integration=target, actor=actor)
        if not health.ok:
            raise OperationRefused(
                f"The target is {health.status.value}: {health.detail}", code="unhealthy"
            )
        _step(
            migration.pk,
            step=step,
            progress=60,
            detail=f"Healthy in {health.latency_ms} ms.",
            actor=actor,
        )

        step = "switch_primary"
        with _executing(migration.pk):
            result = switch_primary(organization=organization, channel=channel, target=target, actor=actor, reason=reason)
            switched = result.switched
            change = f"'{result.previous.display_name if result.previous else 'none'}' → '{target.display_name}'"
            _step(migration.pk, step=step, progress=80, detail=f"Primary: {change}.", actor=actor, reason=change)

        step = "verify_route"
        route = resolve(organization_id=organization.pk, channel=channel)
        if route.primary_id != target.pk:
            raise OperationRefused(
                f"The route still serves {route.primary_id} instead of '{target.display_name}'.",
                code="route_mismatch",
            )
        _step(
            migration.pk,
            step=step,
            progress=95,
            detail=f"Route serves '{target.display_name}'.",
            actor=actor,
        )

        step = "done"
        with _executing(migration.pk) as current:
            current.state = State.COMPLETED
            current.progress = 100
            current.finished_at = timezone.now()
            log_step(current, step=step, outcome="ok", detail=f"'{target.display_name}' is the primary.")
            # Attempts abandoned on the way (another provider chosen after a failed test) go.
            cleanup = remove_unused_created(
                current, actor=actor, keep_id=target.pk,
                reason=_("Created by a migration that finished with another integration."),
            )
            if cleanup.removed_ids or cleanup.kept_ids:
                log_step(current, step="cleanup", outcome="ok", detail=cleanup.detail())
            current.save()
            audit_migration(
                current, action="completed", actor=actor,
                after={"removed_integrations": cleanup.removed_ids} if cleanup.removed_ids else None,
            )
    except _Stopped:
        pass
    except (ServiceError, ValidationError, ProviderError) as exc:
        message = getattr(exc, "message", None) or "; ".join(
            getattr(exc, "messages", []) or [str(exc)]
        )
        switched_back = (
            _switch_back(migration, actor=actor, reason=f"{reason} failed at {step}")
            if switched
            else None
        )
        _fail(
            migration.pk,
            step=step,
            message=str(message),
            actor=actor,
            switched_back_to=switched_back,
        )
    except Exception as exc:
        switched_back = (
            _switch_back(migration, actor=actor, reason=f"{reason} failed at {step}")
            if switched
            else None
        )
        _fail(
            migration.pk,
            step=step,
            message=f"Unexpected error ({type(exc).__name__}).",
            actor=actor,
            switched_back_to=switched_back,
        )
        raise
    migration.refresh_from_db()
    return migration


def _switch_back(
    migration: ProviderMigration, *, actor: Any, reason: str
) -> OrganizationIntegration | None:
    source = migration.source
    if source is None:
        return None
    try:
        switch_primary(
            organization=migration.organization,
            channel=migration.channel,
            target=source.pk,
            actor=actor,
            reason=reason,
        )
    except SwitchRefused:
        return None
    return source


def rollback_available(migration: ProviderMigration, *, now=None) -> bool:
    if migration.source_id is None:
        return False
    if migration.state == State.EXECUTING:
        return True
    if migration.state == State.COMPLETED and migration.finished_at:
        return (now or timezone.now()) - migration.finished_at <= rollback_window()
    return False


def migration_rollback(
    *, migration: ProviderMigration, actor: Any, reason: str = ""
) -> ProviderMigration:
    """Switch back to the source through ``switch_primary``; allowed while executing and for
    ``PROVIDER_MIGRATION_ROLLBACK_SECONDS`` after completion. Refused when the source cannot
    take traffic (the switch's own refusal is passed on)."""
    refuse_when_disabled()
    with transaction.atomic():
        current = locked(migration.pk)
        if not rollback_available(current):
            if current.source_id is None:
                raise OperationRefused(
                    "There is no previous primary to roll back to.", code="no_source"
                )
            raise OperationRefused(
                f"This migration is {current.get_state_display().lower()}"
                + (
                    " and its rollback window has passed"
                    if current.state == State.COMPLETED
                    else ""
                )
                + "; it cannot be rolled back.",
                code="rollback_unavailable",
            )
        source = (
            OrganizationIntegration.objects.for_org(current.organization)
            .filter(pk=current.source_id)
            .first()
        )
        if source is None:
            raise OperationRefused("The previous primary no longer exists.", code="no_source")
        result = switch_primary(
            organization=current.organization,
            channel=current.channel,
            target=source,
            actor=actor,
            reason=f"rollback of migration {current.pk}" + (f": {reason}" if reason else ""),
        )
        current.state = State.ROLLED_BACK
        current.finished_at = timezone.now()
        log_step(
            current,
            step="rollback",
            outcome="ok",
            detail=f"'{source.display_name}' is primary again."
            + ("" if result.switched else " (it never stopped being primary)"),
        )
        current.save()
        audit_migration(current, action="rolled_back", actor=actor, reason=reason)
    return current
