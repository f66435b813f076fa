"""What the wizard and the executor share: the execution steps, the feature flag, and how a
migration's log, audit trail and row lock are written."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_noop

from audit import services as audit
from integrations.errors import OperationRefused
from integrations.models import ProviderMigration

State = ProviderMigration.State

# Progress reached when each execution step has finished (labels translated where shown).
EXECUTION_STEPS: tuple[tuple[str, str, int], ...] = (
    ("validate", gettext_noop("Validate the target's configuration"), 20),
    ("setup", gettext_noop("Set up the provider side"), 40),
    ("verify_health", gettext_noop("Verify the target is healthy"), 60),
    ("switch_primary", gettext_noop("Switch the primary"), 80),
    ("verify_route", gettext_noop("Verify the route serves the new primary"), 95),
    ("done", gettext_noop("Done"), 100),
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


def refuse_when_disabled() -> None:
    if not management_enabled():
        raise OperationRefused(
            "Provider management is switched off (PROVIDER_MANAGEMENT_ENABLED); migrations are refused.",
            code="management_disabled",
        )


def log_step(
    migration: ProviderMigration,
    *,
    step: str,
    outcome: str,
    detail: str = "",
    integration: Any = None,
    created: bool = False,
) -> None:
    """Append a timed entry to the migration's log. ``integration`` names the integration the
    step acted on (a test result belongs to the integration it tested); ``created`` marks the
    integrations this migration created, which a cancel removes."""
    entry = {
        "at": timezone.now().isoformat(),
        "step": step,
        "outcome": outcome,
        "detail": detail[:500],
    }
    if integration is not None:
        entry["integration"] = str(getattr(integration, "pk", integration))
    if created:
        entry["created"] = True
    migration.log = [*(migration.log or []), entry]


def created_integration_ids(migration: ProviderMigration) -> list[str]:
    """The integrations this migration created (step 2's "set up a new one"), oldest first."""
    seen: list[str] = []
    for entry in migration.log or []:
        if entry.get("created") and entry.get("integration") and entry["integration"] not in seen:
            seen.append(entry["integration"])
    return seen


def last_test_of(migration: ProviderMigration, integration_id: Any) -> dict | None:
    """The latest connection test of ``integration_id`` as it is configured now, or None: a
    result belongs to the integration (and the configuration) it tested — never shown for
    another integration, nor after the integration was configured again."""
    if integration_id is None:
        return None
    wanted = str(integration_id)
    for entry in reversed(migration.log or []):
        if entry.get("integration") != wanted:
            continue
        if entry.get("step") == "test":
            return entry
        if entry.get("step") == "configured":
            return None
    return None


def audit_migration(
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


def locked(migration_id: UUID | str) -> ProviderMigration:
    return (
        ProviderMigration.objects.select_for_update()
        .select_related("organization")
        .get(pk=migration_id)
    )


def require_state(migration: ProviderMigration, *allowed: str, doing: str) -> None:
    if migration.state not in allowed:
        raise OperationRefused(
            f"This migration is {migration.get_state_display().lower()}; it cannot {doing}.",
            code="wrong_state",
        )
