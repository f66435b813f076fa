"""Running connection tests, keeping each integration's health, and automatic failover.

``run_health_checks`` is what the beat task (every ``HEALTH_CHECK_INTERVAL`` seconds) and the
``check_providers`` command call. For every active integration it runs ``test_connection``,
stores the health (changes are audited by ``integration_test_connection``), notifies the
organization when an integration goes down, and then, for organizations with
``auto_failover``, decides whether to move their traffic:

* **failover** — the primary has been down for ``HEALTH_FAILOVER_THRESHOLD`` consecutive
  checks, or its circuit breaker is open: switch to the healthiest usable fallback (healthy
  before degraded before unknown, then route order) through ``switch_primary`` with actor
  ``system:health`` and action ``provider.failover``.
* **fail-back** (only with ``auto_failback``) — the last switch of the channel was an automatic
  failover and the original primary is healthy again: switch back (``provider.failback``).
* **no flapping** — neither happens within ``FAILOVER_COOLDOWN_SECONDS`` of the channel's last
  automatic switch. The audit trail is the memory, so every worker and host agrees.

The count of consecutive failed checks lives in the cache (Redis), keyed per integration; when
Redis is down the count cannot grow and only the breaker can trigger a failover.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Min
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from audit import context
from audit import services as audit
from audit.models import AuditEvent
from integrations.errors import SwitchRefused
from integrations.models import Organization, OrganizationIntegration
from integrations.selectors.policies import capped_integration_ids, receipts_breach
from integrations.services import metrics, notifications
from integrations.services.delivery import breaker
from integrations.services.routing import invalidate_route
from integrations.services.switching import promote_if_first_active, switch_primary
from providers.values import HealthStatus, ProviderHealth

logger = logging.getLogger(__name__)

HEALTH_ACTOR = "system:health"
FAILOVER_ACTION = "provider.failover"
FAILBACK_ACTION = "provider.failback"

Status = OrganizationIntegration.Status


def integration_test_connection(*, integration: OrganizationIntegration, actor: Any) -> ProviderHealth:
    """Call the provider now, store the health, and activate a pending integration that passes.

    The provider is called outside any transaction: a slow provider must not hold row locks.
    """
    try:
        health = integration.adapter().test_connection()
    except Exception as exc:
        # test_connection turns what the provider does into a health; this is what it cannot
        # cover (the provider no longer registered, an adapter that cannot be built): the
        # integration is down, the detail names the kind of failure and nothing else.
        logger.warning("Health check of %s could not run", integration.pk, exc_info=True)
        health = ProviderHealth(status=HealthStatus.DOWN, detail=unavailable_detail(exc))
    metrics.provider_called(channel=integration.channel, provider=integration.provider_name, operation="health_check", latency_ms=health.latency_ms)
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
            promote_if_first_active(integration=current, actor=actor)
            organization_id, channel = current.organization_id, current.channel
            transaction.on_commit(lambda: invalidate_route(organization_id=organization_id, channel=channel))
    integration.refresh_from_db()
    return health


# --------------------------------------------------------------------------- periodic checks


@dataclass(frozen=True)
class HealthCheckRow:
    """One line of a health run, as ``check_providers`` prints it."""

    organization: str
    channel: str
    integration: str
    provider_name: str
    is_primary: bool
    health: str
    latency_ms: int | None
    down_streak: int
    breaker: str
    detail: str
    action: str = ""


def _streak_key(integration_id) -> str:
    return f"sb:health:{integration_id}:down_streak"


def down_streak(*, integration: OrganizationIntegration) -> int:
    """How many consecutive health checks found this integration down (0 if unknown)."""
    try:
        return int(cache.get(_streak_key(integration.pk)) or 0)
    except Exception:
        return 0


def _update_streak(integration: OrganizationIntegration, *, down: bool) -> int:
    key = _streak_key(integration.pk)
    try:
        if not down:
            cache.delete(key)
            return 0
        cache.add(key, 0, timeout=None)
        return int(cache.incr(key))
    except Exception as exc:
        logger.warning("Cache unavailable for health streaks (%s); failover relies on breakers.", type(exc).__name__)
        return 0


HEALTH_RUN_LOCK = "sb:health:run-lock"


def run_health_checks_exclusively() -> list[HealthCheckRow]:
    """``run_health_checks`` unless another run holds the lock (then nothing).

    Two overlapping runs would count one outage twice towards the K consecutive failed checks
    that trigger a failover. The lock expires on its own if a worker dies holding it; without
    Redis, runs simply are not serialized.
    """
    interval = settings.CELERY_BEAT_SCHEDULE["health-checks"]["schedule"]
    try:
        acquired = cache.add(HEALTH_RUN_LOCK, "1", timeout=max(int(interval * 2), 60))
    except Exception:
        acquired = True
    if not acquired:
        return []
    try:
        return run_health_checks()
    finally:
        try:
            cache.delete(HEALTH_RUN_LOCK)
        except Exception:
            logger.warning("Could not release the health-check run lock; it expires on its own.")


def unavailable_detail(exc: BaseException) -> str:
    return f"The health check could not run ({type(exc).__name__})."


def _check_one(integration: OrganizationIntegration, *, organization: Organization, actor: Any) -> HealthCheckRow:
    context.set_scope(organization_id=organization.pk, integration_id=integration.pk)
    previous = integration.health_status
    health = integration_test_connection(integration=integration, actor=actor)
    streak = _update_streak(integration, down=health.status == HealthStatus.DOWN)
    if health.status == HealthStatus.DOWN and previous != HealthStatus.DOWN:
        notifications.notify(
            organization=organization,
            event=notifications.PROVIDER_DOWN,
            summary=format_lazy(_("{name} ({provider}) is down"), name=integration.display_name,
                                provider=integration.provider_name),
            data={"integration": str(integration.pk), "channel": integration.channel,
                  "is_primary": integration.is_primary, "detail": integration.health_detail[:300]},
        )
    return HealthCheckRow(
        organization=organization.slug,
        channel=integration.channel,
        integration=integration.display_name,
        provider_name=integration.provider_name,
        is_primary=integration.is_primary,
        health=health.status.value,
        latency_ms=health.latency_ms,
        down_streak=streak,
        breaker=breaker.breaker_state(integration=integration).value,
        detail=integration.health_detail[:120],
    )


def _failed_check(integration: OrganizationIntegration, *, organization: Organization, exc: Exception) -> HealthCheckRow:
    """What is left when checking one integration raised past ``integration_test_connection``
    (its row, its notification, the cache): that integration is down; the run goes on."""
    logger.exception("Health check of integration %s failed; the run goes on", integration.pk)
    detail = unavailable_detail(exc)
    try:
        OrganizationIntegration.objects.filter(pk=integration.pk).update(
            health_status=OrganizationIntegration.Health.DOWN, health_checked_at=timezone.now(),
            health_latency_ms=None, health_detail=detail, updated_at=timezone.now(),
        )
    except Exception:
        logger.exception("Could not store the failed health check of %s", integration.pk)
    return HealthCheckRow(
        organization=organization.slug, channel=integration.channel, integration=integration.display_name,
        provider_name=integration.provider_name, is_primary=integration.is_primary, health=HealthStatus.DOWN.value,
        latency_ms=None, down_streak=down_streak(integration=integration), breaker="", detail=detail,
    )


def _organizations_in_check_order() -> list[Organization]:
    """Every organization, the one whose integration was checked least recently first: when a
    run stops at its budget, those it did not reach go first in the next run."""
    return list(
        Organization.objects.annotate(oldest_check=Min("integrations__health_checked_at"))
        .order_by(F("oldest_check").asc(nulls_first=True), "pk")
    )


def run_health_checks(*, organization: Organization | None = None, actor: Any = HEALTH_ACTOR,
                      budget_seconds: float | None = None) -> list[HealthCheckRow]:
    """Test every active integration (of one organization, or of all), then fail over or back
    where the organization asked for it. Returns one row per integration checked.

    Each integration is checked in isolation: whatever one raises, it is marked down with a
    bounded detail and the run goes on to the next (and to other organizations). The run stops
    starting checks after ``HEALTH_RUN_BUDGET_SECONDS``; each check is itself bounded by its
    integration's timeouts (at most 30 s)."""

    budget = settings.HEALTH_RUN_BUDGET_SECONDS if budget_seconds is None else budget_seconds
    deadline = time.monotonic() + max(float(budget), 0.0)
    organizations = [organization] if organization is not None else _organizations_in_check_order()
    rows: list[HealthCheckRow] = []
    skipped = 0
    for org in organizations:
        integrations = list(OrganizationIntegration.objects.for_org(org).active().order_by("channel").in_route_order())
        by_channel: dict[str, list[HealthCheckRow]] = {}
        for integration in integrations:
            if time.monotonic() >= deadline:
                skipped += 1
                continue
            try:
                row = _check_one(integration, organization=org, actor=actor)
            except Exception as exc:
                row = _failed_check(integration, organization=org, exc=exc)
            by_channel.setdefault(integration.channel, []).append(row)
        for channel, channel_rows in by_channel.items():
            try:
                action = evaluate_failover(organization=org, channel=channel)
            except Exception:
                logger.exception("Failover evaluation of %s %s failed; the run goes on", org.pk, channel)
                action = ""
            if action:
                channel_rows = [
                    replace(r, action=action) if r.is_primary else r for r in channel_rows
                ]
            rows.extend(channel_rows)
    if skipped:
        logger.warning("Health run stopped at its budget of %ss: %s integration(s) wait for the next run.", budget, skipped)
    return rows


_HEALTH_RANK = {
    OrganizationIntegration.Health.HEALTHY: 0,
    OrganizationIntegration.Health.DEGRADED: 1,
    OrganizationIntegration.Health.UNKNOWN: 2,
}


def _last_automatic_switch_at(*, organization: Organization, channel: str) -> datetime | None:
    event = (
        AuditEvent.objects.for_org(organization)
        .filter(action__in=(FAILOVER_ACTION, FAILBACK_ACTION), after__primary__channel=channel)
        .order_by("-created_at")
        .first()
    )
    return event.created_at if event else None


def evaluate_failover(*, organization: Organization, channel: str, now: datetime | None = None) -> str:
    """Fail over or back if the organization's settings and the evidence say so.

    Returns what was done, for display: "" (nothing), or a sentence naming the switch.
    """

    if not organization.auto_failover:
        return ""
    now = now or timezone.now()
    rows = list(OrganizationIntegration.objects.for_org(organization).for_channel(channel).in_route_order())
    primary = next((row for row in rows if row.is_primary), None)
    if primary is None:
        return ""
    threshold = max(int(settings.HEALTH_FAILOVER_THRESHOLD), 1)
    primary_streak = down_streak(integration=primary)
    receipts = receipts_breach(organization=organization, channel=channel, integration_id=primary.pk, now=now)
    primary_down = primary_streak >= threshold or primary.breaker_is_open(now) or receipts is not None

    last_switch = _last_automatic_switch_at(organization=organization, channel=channel)
    cooling_down = last_switch is not None and now - last_switch < timedelta(seconds=settings.FAILOVER_COOLDOWN_SECONDS)

    if primary_down:
        if cooling_down:
            logger.warning("%s %s primary is down but the last automatic switch was at %s; not flapping.",
                           organization.slug, channel, last_switch)
            return ""
        why = (
            f"down for {primary_streak} consecutive health checks" if primary_streak >= threshold
            else "circuit breaker open" if primary.breaker_is_open(now)
            else f"{receipts.missing} of {receipts.judged} recent messages without a delivery receipt"
        )
        capped = capped_integration_ids(organization=organization, channel=channel)  # routing skips them
        candidates = [
            row for row in rows
            if not row.is_primary
            and row.pk not in capped
            and row.status == OrganizationIntegration.Status.ACTIVE
            and row.health_status != OrganizationIntegration.Health.DOWN
            and not row.breaker_is_open(now)
            and down_streak(integration=row) == 0
        ]
        candidates.sort(key=lambda row: _HEALTH_RANK.get(row.health_status, 3))  # stable: keeps route order
        for target in candidates:
            reason = f"Automatic failover: {primary.display_name} {why}; {target.display_name} is {target.health_status}."
            try:
                switch_primary(organization=organization, channel=channel, target=target, actor=HEALTH_ACTOR,
                               reason=reason, action=FAILOVER_ACTION)
            except SwitchRefused as exc:
                logger.warning("Failover to %s refused: %s", target.display_name, exc.message)
                continue
            metrics.failed_over(channel=channel, cause="health_checks" if primary_streak >= threshold else "breaker_open", organization=organization)
            notifications.notify(
                organization=organization, event=notifications.PROVIDER_FAILOVER, summary=reason,
                data={"channel": channel, "from": str(primary.pk), "to": str(target.pk)},
            )
            return f"failed over to {target.display_name}"
        logger.error("%s %s primary is down and no fallback is usable.", organization.slug, channel)
        return ""

    if not organization.auto_failback or cooling_down:
        return ""
    last = (
        AuditEvent.objects.for_org(organization)
        # Every switch (manual, wizard, automatic) is audited with the new primary in ``after``.
        .filter(after__primary__channel=channel)
        .order_by("-created_at")
        .first()
    )
    if last is None or last.action != FAILOVER_ACTION:
        return ""
    original_id = ((last.before or {}).get("primary") or {}).get("id")
    original = next((row for row in rows if str(row.pk) == original_id), None)
    if (
        original is None
        or original.is_primary
        or original.status != OrganizationIntegration.Status.ACTIVE
        or original.health_status != OrganizationIntegration.Health.HEALTHY
        or original.breaker_is_open(now)
        or down_streak(integration=original)
    ):
        return ""
    reason = f"Automatic fail-back: {original.display_name} is healthy again."
    try:
        switch_primary(organization=organization, channel=channel, target=original, actor=HEALTH_ACTOR,
                       reason=reason, action=FAILBACK_ACTION)
    except SwitchRefused as exc:
        logger.warning("Fail-back to %s refused: %s", original.display_name, exc.message)
        return ""
    notifications.notify(
        organization=organization, event=notifications.PROVIDER_FAILBACK, summary=reason,
        data={"channel": channel, "from": str(primary.pk), "to": str(original.pk)},
    )
    return f"failed back to {original.display_name}"
