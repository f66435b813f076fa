"""The provider migration wizard's state machine: moving a channel's primary to another integration.

States::

    draft ──configure──► configured ──test ok──► tested ──execute──► executing ──► completed
      │                     │  ▲ test failed         │                    │            │
      └──────── cancel ─────┴──┴─────────────────────┘                    ▼            ▼
                                                                   failed      rolled_back

One migration may be open (draft, configured, tested, executing) per (organization, channel); a
partial unique index in the database enforces it. Execution runs in a Celery task
(``integrations.tasks_migration``) through ``migration_execute``: validate → setup → verify
health → ``switch_primary`` → verify the route serves the new primary → done. Each step writes
progress and a timed log entry and is audited. Rollback switches back through the same
``switch_primary``. Every step re-reads the migration under a row lock, so a rollback that lands
while the task runs stops it at the next step.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit import services as audit
from integrations.models import Organization, OrganizationIntegration, ProviderMigration
from integrations.selectors import primary_integration
from integrations.services import notifications
from integrations.services.errors import OperationRefused, ServiceError, SwitchRefused
from integrations.services.health import integration_test_connection
from integrations.services.integrations import integration_create, integration_update
from integrations.services.routing import resolve
from integrations.services.switching import refusal_reason, switch_primary
from providers.errors import ProviderError
from providers.registry import UnknownProvider, get_provider_class
from providers.values import OutboundMessage

State = ProviderMigration.State

# Progress reached when each execution step has finished.
EXECUTION_STEPS: tuple[tuple[str, str, int], ...] = (
    ("validate", "Validate the target's configuration", 20),
    ("setup", "Set up the provider side", 40),
    ("verify_health", "Verify the target is healthy", 60),
    ("switch_primary", "Switch the primary", 80),
    ("verify_route", "Verify the route serves the new primary", 95),
    ("done", "Done", 100),
)

SYSTEM_ACTOR = "system:migration"


def management_enabled() -> bool:
    """The PROVIDER_MANAGEMENT_ENABLED feature flag (default on): off hides the admin screens
    and refuses every migration step, the product plan's rollback plan."""
    return bool(getattr(settings, "PROVIDER_MANAGEMENT_ENABLED", True))


def rollback_window() -> timedelta:
    return timedelta(
        seconds=int(getattr(settings, "PROVIDER_MIGRATION_ROLLBACK_SECONDS", 24 * 3600))
    )


def _refuse_when_disabled() -> None:
    if not management_enabled():
        raise OperationRefused(
            "Provider management is switched off (PROVIDER_MANAGEMENT_ENABLED); migrations are refused.",
            code="management_disabled",
        )


def _log(migration: ProviderMigration, *, step: str, outcome: str, detail: str = "") -> None:
    migration.log = [
        *(migration.log or []),
        {
            "at": timezone.now().isoformat(),
            "step": step,
            "outcome": outcome,
            "detail": detail[:500],
        },
    ]


def _audit(
    migration: ProviderMigration,
    *,
    action: str,
    actor: Any,
    outcome: str = "success",
    reason: str = "",
    after: dict | None = None,
) -> None:
    audit.record(
        action=f"migration.{action}",
        actor=actor,
        organization=migration.organization,
        target=migration,
        after={
            "state": migration.state,
            "progress": migration.progress,
            "channel": migration.channel,
            "source": str(migration.source_id) if migration.source_id else None,
            "target": str(migration.target_id) if migration.target_id else None,
            "target_provider_name": migration.target_provider_name,
            **(after or {}),
        },
        outcome=outcome,
        reason=reason,
    )


def _locked(migration_id: UUID | str) -> ProviderMigration:
    return (
        ProviderMigration.objects.select_for_update()
        .select_related("organization")
        .get(pk=migration_id)
    )


def _require_state(migration: ProviderMigration, *allowed: str, doing: str) -> None:
    if migration.state not in allowed:
        raise OperationRefused(
            f"This migration is {migration.get_state_display().lower()}; it cannot {doing}.",
            code="wrong_state",
        )


def open_migration(*, organization: Organization, channel: str) -> ProviderMigration | None:
    return (
        ProviderMigration.objects.for_org(organization)
        .filter(channel=channel, state__in=ProviderMigration.OPEN_STATES)
        .select_related("source", "target")
        .first()
    )


def migration_get(*, organization: Organization, migration_id: UUID | str) -> ProviderMigration:
    from integrations.services.errors import NotFound

    try:
        return (
            ProviderMigration.objects.for_org(organization)
            .select_related("source", "target")
            .get(pk=migration_id)
        )
    except (ProviderMigration.DoesNotExist, ValueError, ValidationError):
        raise NotFound("No such migration for this organization.") from None


def _current_primary(organization: Organization, channel: str) -> OrganizationIntegration | None:
    return primary_integration(organization=organization, channel=channel)


def _check_provider(provider_name: str, channel: str):
    try:
        provider_class = get_provider_class(provider_name)
    except UnknownProvider as exc:
        raise ValidationError({"provider_name": [str(exc)]}) from None
    if provider_class.channel != channel:
        raise ValidationError(
            {"provider_name": [f"{provider_class.display_name} is not a {channel} provider."]}
        )
    return provider_class


def migration_start(
    *, organization: Organization, channel: str, provider_name: str, actor: Any
) -> ProviderMigration:
    """Open a migration (state draft) towards a provider, from the channel's current primary.

    Refused while another migration of the same (organization, channel) is open.
    """
    _refuse_when_disabled()
    _check_provider(provider_name, channel)
    existing = open_migration(organization=organization, channel=channel)
    if existing is not None:
        raise OperationRefused(concurrent_message(existing), code="migration_in_progress")
    source = _current_primary(organization, channel)
    migration = ProviderMigration(
        organization=organization,
        channel=channel,
        source=source,
        target_provider_name=provider_name,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    _log(migration, step="draft", outcome="ok", detail=f"Target provider {provider_name}.")
    try:
        with transaction.atomic():
            migration.save()
            _audit(migration, action="started", actor=actor)
    except IntegrityError:
        # The partial unique index: another admin opened one between our check and our insert.
        existing = open_migration(organization=organization, channel=channel)
        raise OperationRefused(
            concurrent_message(existing)
            if existing
            else "Another migration of this channel is already open.",
            code="migration_in_progress",
        ) from None
    return migration


def concurrent_message(existing: ProviderMigration) -> str:
    """Why a second migration of the same channel is refused, for the person who asked."""
    who = (
        existing.created_by.get_username()
        if existing.created_by_id and existing.created_by
        else "someone"
    )
    return (
        f"A {existing.get_channel_display()} migration for {existing.organization.name} is already "
        f"{existing.get_state_display().lower()} (opened by {who} at {existing.created_at:%Y-%m-%d %H:%M} UTC). "
        "Finish, roll back or cancel it before starting another."
    )


def migration_select_provider(
    *, migration: ProviderMigration, provider_name: str, actor: Any
) -> ProviderMigration:
    """Go back to step 1 and choose another provider; forgets the configured target."""
    _refuse_when_disabled()
    _check_provider(provider_name, migration.channel)
    with transaction.atomic():
        current = _locked(migration.pk)
        _require_state(
            current, State.DRAFT, State.CONFIGURED, State.TESTED, doing="change its provider"
        )
        current.target_provider_name = provider_name
        current.target = None
        current.state = State.DRAFT
        _log(current, step="draft", outcome="ok", detail=f"Target provider {provider_name}.")
        current.save()
        _audit(current, action="provider_selected", actor=actor)
    return current


def migration_configure(
    *,
    migration: ProviderMigration,
    actor: Any,
    existing_integration_id: UUID | str | None = None,
    display_name: str = "",
    config: Mapping[str, Any] | None = None,
    credentials: Mapping[str, Any] | None = None,
) -> ProviderMigration:
    """Step 2: reuse an existing integration of the chosen provider, or create one from the form.

    A reused integration's non-secret settings are replaced when ``config`` is given; credential
    fields left blank keep their stored values.
    """
    _refuse_when_disabled()
    organization = migration.organization
    _require_state(migration, State.DRAFT, State.CONFIGURED, State.TESTED, doing="be configured")
    if existing_integration_id:
        target = (
            OrganizationIntegration.objects.for_org(organization)
            .filter(
                channel=migration.channel,
                provider_name=migration.target_provider_name,
                pk=existing_integration_id,
            )
            .first()
        )
        if target is None:
            raise ValidationError(
                {
                    "existing": [
                        "Choose one of this channel's integrations of the selected provider."
                    ]
                }
            )
        if target.is_primary:
            raise ValidationError(
                {"existing": [f"'{target.display_name}' is already the primary."]}
            )
        if config is not None or any(v not in (None, "") for v in (credentials or {}).values()):
            target = integration_update(
                integration=target,
                actor=actor,
                config=config,
                credentials=credentials,
                reason=f"migration {migration.pk}",
            )
    else:
        target = integration_create(
            organization=organization,
            channel=migration.channel,
            provider_name=migration.target_provider_name,
            display_name=display_name,
            config=config or {},
            credentials=credentials or {},
            actor=actor,
        )
    with transaction.atomic():
        current = _locked(migration.pk)
        _require_state(current, State.DRAFT, State.CONFIGURED, State.TESTED, doing="be configured")
        current.target = target
        current.state = State.CONFIGURED
        _log(current, step="configured", outcome="ok", detail=f"Target '{target.display_name}'.")
        current.save()
        _audit(current, action="configured", actor=actor)
    return current


def migration_test(*, migration: ProviderMigration, actor: Any):
    """Step 3: test the target's connection. A healthy, active target moves the migration to
    ``tested``; anything else leaves it ``configured`` with the reason logged, so the admin can
    fix the configuration and retry. Returns the provider's health report."""
    _refuse_when_disabled()
    _require_state(migration, State.CONFIGURED, State.TESTED, doing="be tested")
    if migration.target is None:
        raise OperationRefused("Configure the target integration first.", code="not_configured")
    health = integration_test_connection(integration=migration.target, actor=actor)
    target = migration.target
    target.refresh_from_db()
    problem = (
        None
        if health.ok
        else f"Connection test failed: {health.status.value}. {health.detail}".strip()
    )
    if problem is None:
        problem = refusal_reason(target)
    with transaction.atomic():
        current = _locked(migration.pk)
        _require_state(current, State.CONFIGURED, State.TESTED, doing="be tested")
        current.state = State.CONFIGURED if problem else State.TESTED
        _log(
            current,
            step="test",
            outcome="failed" if problem else "ok",
            detail=problem or f"Healthy in {health.latency_ms} ms.",
        )
        current.error = problem or ""
        current.save()
        _audit(
            current,
            action="tested",
            actor=actor,
            outcome="failure" if problem else "success",
            reason=problem or "",
            after={"health": health.status.value, "latency_ms": health.latency_ms},
        )
    return health


def migration_send_test_message(*, migration: ProviderMigration, to: str, actor: Any) -> str:
    """Optional in step 3: send one WhatsApp message straight through the target (not the route),
    so the admin can see it arrive. Returns the provider's message id."""
    _refuse_when_disabled()
    _require_state(migration, State.CONFIGURED, State.TESTED, doing="send a test message")
    if migration.target is None or migration.channel != "whatsapp":
        raise OperationRefused(
            "Test messages are for a configured WhatsApp target.", code="not_supported"
        )
    if not to.strip():
        raise ValidationError({"to": ["Type the number to send the test message to."]})
    try:
        result = migration.target.adapter().send_message(
            OutboundMessage(
                to=to.strip(), body="Switchboard test message: your new provider works."
            )
        )
    except (ProviderError, ValueError) as exc:
        outcome, detail, message_id = "failed", str(exc), ""
    else:
        outcome, detail, message_id = (
            "ok",
            f"Test message accepted as {result.provider_message_id}.",
            result.provider_message_id,
        )
    with transaction.atomic():
        current = _locked(migration.pk)
        _log(current, step="test_message", outcome=outcome, detail=detail)
        current.save(update_fields=["log", "updated_at"])
        _audit(
            current,
            action="test_message",
            actor=actor,
            outcome="success" if message_id else "failure",
            reason=detail,
        )
    if not message_id:
        raise OperationRefused(
            f"The test message was not sent: {detail}", code="test_message_failed"
        )
    return message_id


def migration_begin_execute(*, migration: ProviderMigration, actor: Any) -> ProviderMigration:
    """Step 4: mark the migration executing and hand it to the Celery task once committed."""
    _refuse_when_disabled()
    with transaction.atomic():
        current = _locked(migration.pk)
        if current.state != State.TESTED:
            raise OperationRefused(
                "Run a successful connection test before executing."
                if current.state == State.CONFIGURED
                else f"This migration is {current.get_state_display().lower()}; it cannot be executed.",
                code="not_tested" if current.state == State.CONFIGURED else "wrong_state",
            )
        current.state = State.EXECUTING
        current.progress = 0
        current.error = ""
        current.started_at = timezone.now()
        _log(current, step="executing", outcome="ok", detail="Queued for execution.")
        current.save()
        _audit(current, action="executing", actor=actor)
        migration_id = str(current.pk)

        def enqueue():
            from integrations.tasks_migration import execute_provider_migration

            execute_provider_migration.delay(migration_id)

        transaction.on_commit(enqueue)
    return current


class _Stopped(Exception):
    """The migration left ``executing`` (rolled back or failed elsewhere) while the task ran."""


def _step(migration_id, *, step: str, progress: int, detail: str, actor: Any) -> ProviderMigration:
    with transaction.atomic():
        current = _locked(migration_id)
        if current.state != State.EXECUTING:
            raise _Stopped()
        current.progress = progress
        _log(current, step=step, outcome="ok", detail=detail)
        current.save(update_fields=["progress", "log", "updated_at"])
        _audit(current, action=f"step.{step}", actor=actor, reason=detail)
    return current


def _fail(
    migration_id,
    *,
    step: str,
    message: str,
    actor: Any,
    switched_back_to: OrganizationIntegration | None = None,
) -> None:
    with transaction.atomic():
        current = _locked(migration_id)
        if current.state != State.EXECUTING:
            return
        current.state = State.FAILED
        current.error = message
        current.finished_at = timezone.now()
        _log(current, step=step, outcome="failed", detail=message)
        if switched_back_to is not None:
            _log(
                current,
                step="switch_back",
                outcome="ok",
                detail=f"'{switched_back_to.display_name}' is primary again.",
            )
        current.save()
        _audit(current, action="failed", actor=actor, outcome="failure", reason=message)
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
        _refuse_when_disabled()
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
        with transaction.atomic():
            current = _locked(migration.pk)
            if current.state != State.EXECUTING:
                raise _Stopped()
            result = switch_primary(
                organization=organization,
                channel=channel,
                target=target,
                actor=actor,
                reason=reason,
            )
            switched = result.switched
            current.progress = 80
            previous = result.previous.display_name if result.previous else "none"
            _log(
                current,
                step=step,
                outcome="ok",
                detail=f"Primary: '{previous}' → '{target.display_name}'.",
            )
            current.save(update_fields=["progress", "log", "updated_at"])
            _audit(
                current,
                action=f"step.{step}",
                actor=actor,
                reason=f"'{previous}' → '{target.display_name}'",
            )

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
        with transaction.atomic():
            current = _locked(migration.pk)
            if current.state != State.EXECUTING:
                raise _Stopped()
            current.state = State.COMPLETED
            current.progress = 100
            current.finished_at = timezone.now()
            _log(
                current, step=step, outcome="ok", detail=f"'{target.display_name}' is the primary."
            )
            current.save()
            _audit(current, action="completed", actor=actor)
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
    _refuse_when_disabled()
    with transaction.atomic():
        current = _locked(migration.pk)
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
        _log(
            current,
            step="rollback",
            outcome="ok",
            detail=f"'{source.display_name}' is primary again."
            + ("" if result.switched else " (it never stopped being primary)"),
        )
        current.save()
        _audit(current, action="rolled_back", actor=actor, reason=reason)
    return current


def migration_cancel(*, migration: ProviderMigration, actor: Any) -> ProviderMigration:
    with transaction.atomic():
        current = _locked(migration.pk)
        _require_state(current, State.DRAFT, State.CONFIGURED, State.TESTED, doing="be cancelled")
        current.state = State.CANCELLED
        current.finished_at = timezone.now()
        _log(current, step="cancelled", outcome="ok")
        current.save()
        _audit(current, action="cancelled", actor=actor)
    return current


# ----- reads for the history screen


def migration_history(*, organization: Organization, limit: int = 200):
    return (
        ProviderMigration.objects.for_org(organization)
        .select_related("source", "target", "created_by")
        .order_by("-created_at")[:limit]
    )


def migration_success_rate(
    *, organization: Organization, days: int = 90, now=None
) -> dict[str, Any]:
    """Among migrations that finished executing in the last ``days`` days (completed, failed or
    rolled back), the share that completed. None when there were none."""
    since = (now or timezone.now()) - timedelta(days=days)
    finished = ProviderMigration.objects.for_org(organization).filter(
        finished_at__gte=since, state__in=[State.COMPLETED, State.FAILED, State.ROLLED_BACK]
    )
    total = finished.count()
    completed = finished.filter(state=State.COMPLETED).count()
    return {
        "days": days,
        "total": total,
        "completed": completed,
        "rate": (completed * 100.0 / total) if total else None,
    }
