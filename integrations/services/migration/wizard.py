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
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from integrations.errors import OperationRefused
from integrations.models import Organization, OrganizationIntegration, ProviderMigration
from integrations.selectors.integrations import primary_integration
from integrations.selectors.migrations import open_migration
from integrations.services.health import integration_test_connection
from integrations.services.integrations import (
    integration_create,
    integration_update,
)
from integrations.services.migration.cleanup import remove_unused_created
from integrations.services.migration.state import (
    audit_migration,
    locked,
    log_step,
    refuse_when_disabled,
    require_state,
)
from integrations.services.queue import enqueue_on_commit
from integrations.services.switching import refusal_reason
from providers.errors import ProviderError
from providers.registry import UnknownProvider, get_provider_class
from providers.values import OutboundMessage

State = ProviderMigration.State

EXECUTE_TASK = "integrations.execute_provider_migration"


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
    refuse_when_disabled()
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
    log_step(migration, step="draft", outcome="ok", detail=f"Target provider {provider_name}.")
    try:
        with transaction.atomic():
            migration.save()
            audit_migration(migration, action="started", actor=actor)
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
    """Go back to step 1 and choose a provider. Choosing another provider forgets the configured
    target (a cancel still removes it if this migration created it); choosing the same one keeps
    it, so step 2 edits what was entered."""
    refuse_when_disabled()
    _check_provider(provider_name, migration.channel)
    with transaction.atomic():
        current = locked(migration.pk)
        require_state(
            current, State.DRAFT, State.CONFIGURED, State.TESTED, doing="change its provider"
        )
        if current.target is None or current.target.provider_name != provider_name:
            current.target = None
        current.target_provider_name = provider_name
        current.state = State.DRAFT
        current.error = ""
        log_step(current, step="draft", outcome="ok", detail=f"Target provider {provider_name}.")
        current.save()
        audit_migration(current, action="provider_selected", actor=actor)
    return current


def migration_change_configuration(*, migration: ProviderMigration, actor: Any) -> ProviderMigration:
    """From step 3 or 4 back to step 2 with the configured target kept, so the admin edits what
    was entered (secrets stay write-only: blank keeps them). The last test no longer counts."""
    refuse_when_disabled()
    with transaction.atomic():
        current = locked(migration.pk)
        require_state(current, State.DRAFT, State.CONFIGURED, State.TESTED, doing="be reconfigured")
        current.state = State.DRAFT
        current.error = ""
        log_step(current, step="reconfigure", outcome="ok", integration=current.target_id)
        current.save()
        audit_migration(current, action="reconfiguring", actor=actor)
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

    A reused integration's non-secret settings (and name, when given) are replaced when
    ``config`` is given; credential fields left blank keep their stored values. An integration
    created here is marked in the log, so cancelling the migration removes it again.
    """
    refuse_when_disabled()
    organization = migration.organization
    require_state(migration, State.DRAFT, State.CONFIGURED, State.TESTED, doing="be configured")
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
                display_name=display_name or None,
                config=config,
                credentials=credentials,
                reason=f"migration {migration.pk}",
            )
    created = not existing_integration_id
    if created:
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
        current = locked(migration.pk)
        require_state(current, State.DRAFT, State.CONFIGURED, State.TESTED, doing="be configured")
        current.target = target
        current.state = State.CONFIGURED
        current.error = ""
        log_step(
            current,
            step="configured",
            outcome="ok",
            detail=f"Target '{target.display_name}'.",
            integration=target,
            created=created,
        )
        current.save()
        audit_migration(current, action="configured", actor=actor)
    return current


def migration_test(*, migration: ProviderMigration, actor: Any):
    """Step 3: test the target's connection. A healthy, active target moves the migration to
    ``tested``; anything else leaves it ``configured`` with the reason logged, so the admin can
    fix the configuration and retry. Returns the provider's health report."""
    refuse_when_disabled()
    require_state(migration, State.CONFIGURED, State.TESTED, doing="be tested")
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
        current = locked(migration.pk)
        require_state(current, State.CONFIGURED, State.TESTED, doing="be tested")
        current.state = State.CONFIGURED if problem else State.TESTED
        log_step(
            current,
            step="test",
            outcome="failed" if problem else "ok",
            detail=problem or f"Healthy in {health.latency_ms} ms.",
            integration=target,
        )
        current.error = problem or ""
        current.save()
        audit_migration(
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
    refuse_when_disabled()
    require_state(migration, State.CONFIGURED, State.TESTED, doing="send a test message")
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
        current = locked(migration.pk)
        log_step(current, step="test_message", outcome=outcome, detail=detail)
        current.save(update_fields=["log", "updated_at"])
        audit_migration(
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
    refuse_when_disabled()
    with transaction.atomic():
        current = locked(migration.pk)
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
        log_step(current, step="executing", outcome="ok", detail="Queued for execution.")
        current.save()
        audit_migration(current, action="executing", actor=actor)
        enqueue_on_commit(EXECUTE_TASK, str(current.pk), beside_request=True)
    return current


def migration_cancel(*, migration: ProviderMigration, actor: Any) -> ProviderMigration:
    """Cancel an open migration before it executes. The integrations it created are removed
    (each deletion audited) unless one became primary or carried a message or call meanwhile;
    those are kept and named in the log."""
    with transaction.atomic():
        current = locked(migration.pk)
        require_state(current, State.DRAFT, State.CONFIGURED, State.TESTED, doing="be cancelled")
        cleanup = remove_unused_created(
            current, actor=actor, reason=_("Created by a migration that was cancelled before it ran.")
        )
        current.state = State.CANCELLED
        if current.target_id and str(current.target_id) in cleanup.removed_ids:
            current.target = None
        current.finished_at = timezone.now()
        log_step(current, step="cancelled", outcome="ok", detail=cleanup.detail())
        current.log[-1]["removed"] = cleanup.removed_names
        current.save()
        audit_migration(
            current,
            action="cancelled",
            actor=actor,
            after={"removed_integrations": sorted(cleanup.removed_ids), "kept_integrations": cleanup.kept_ids},
        )
    return current
