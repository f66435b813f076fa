"""A circuit breaker per integration, shared by every worker through PostgreSQL.

State lives on the integration row (``consecutive_failures``, ``breaker_open_until``), so every
worker process and every host sees the same breaker:

* **closed** — fewer than ``BREAKER_FAILURE_THRESHOLD`` consecutive retryable failures; traffic
  flows.
* **open** — the threshold was reached; ``breaker_open_until`` lies in the future and delivery
  skips the integration (it fails over to the next one) until then.
* **half-open** — the cooldown has passed but the failures have not been cleared. Exactly one
  delivery may probe: it claims the probe with a conditional UPDATE that moves
  ``breaker_open_until`` forward by ``BREAKER_PROBE_SECONDS``, so a concurrent worker still
  sees the breaker open. A probe that succeeds closes the breaker; one that fails opens it for
  another cooldown; a probe whose worker died simply expires and the next one is let through.

Every write is a single UPDATE decided by the database (no read-modify-write in Python), so two
workers recording failures at once count both.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from django.conf import settings
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from audit import services as audit
from integrations.models import OrganizationIntegration
from integrations.services import metrics, notifications


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


def failure_threshold() -> int:
    return max(int(settings.BREAKER_FAILURE_THRESHOLD), 1)


def cooldown() -> timedelta:
    return timedelta(seconds=settings.BREAKER_COOLDOWN_SECONDS)


def breaker_state(*, integration: OrganizationIntegration, now: datetime | None = None) -> BreakerState:
    now = now or timezone.now()
    if integration.breaker_open_until and integration.breaker_open_until > now:
        return BreakerState.OPEN
    if integration.consecutive_failures >= failure_threshold() and integration.breaker_open_until:
        return BreakerState.HALF_OPEN
    return BreakerState.CLOSED


def breaker_allows(*, integration: OrganizationIntegration, now: datetime | None = None) -> bool:
    """May delivery use this integration now? In half-open state, True for one caller only."""
    now = now or timezone.now()
    state = breaker_state(integration=integration, now=now)
    if state == BreakerState.CLOSED:
        return True
    if state == BreakerState.OPEN:
        return False
    probe_until = now + timedelta(seconds=settings.BREAKER_PROBE_SECONDS)
    claimed = OrganizationIntegration.objects.filter(
        pk=integration.pk, breaker_open_until__lte=now
    ).update(breaker_open_until=probe_until)
    if claimed:
        integration.breaker_open_until = probe_until
    return bool(claimed)


def record_failure(*, integration: OrganizationIntegration, detail: str = "", now: datetime | None = None) -> bool:
    """Count one retryable failure. Returns True when this failure opened a closed breaker."""
    now = now or timezone.now()
    threshold = failure_threshold()
    open_until = now + cooldown()
    # The CASE sees the row as it was before this UPDATE: the failure that reaches the
    # threshold opens the breaker, and so does any failure while it is (half-)open.
    OrganizationIntegration.objects.filter(pk=integration.pk).update(
        consecutive_failures=F("consecutive_failures") + 1,
        breaker_open_until=Case(
            When(consecutive_failures__gte=threshold - 1, then=Value(open_until)),
            default=F("breaker_open_until"),
        ),
    )
    integration.refresh_from_db(fields=["consecutive_failures", "breaker_open_until"])
    # Only the failure that crosses the threshold opens a closed breaker; later ones (a failed
    # probe, sends already in flight) keep it open without a new event.
    opened = integration.consecutive_failures == threshold
    if opened:
        metrics.breaker_changed(integration=integration, state="opened")
        audit.record(
            action="integration.breaker_opened",
            actor="system:delivery",
            organization=integration.organization,
            target=integration,
            after={
                "consecutive_failures": integration.consecutive_failures,
                "breaker_open_until": integration.breaker_open_until.isoformat(),
            },
            outcome="failure",
            reason=detail[:500],
        )


        notifications.notify(
            organization=integration.organization,
            event=notifications.PROVIDER_DOWN,
            summary=format_lazy(_("{name} ({provider}) is failing: circuit breaker open"),
                                name=integration.display_name, provider=integration.provider_name),
            data={
                "integration": str(integration.pk),
                "channel": integration.channel,
                "is_primary": integration.is_primary,
                "consecutive_failures": integration.consecutive_failures,
                "open_until": integration.breaker_open_until.isoformat(),
                "detail": detail[:300],
            },
        )
    return opened


def record_success(*, integration: OrganizationIntegration) -> bool:
    """Clear the failure count. Returns True when this closed an open or half-open breaker.

    Cheap on the hot path: a healthy integration (no failures, no breaker) costs no write.
    """
    if not integration.consecutive_failures and not integration.breaker_open_until:
        return False
    was_tripped = integration.consecutive_failures >= failure_threshold()
    changed = OrganizationIntegration.objects.filter(pk=integration.pk).filter(
        Q(consecutive_failures__gt=0) | Q(breaker_open_until__isnull=False)
    ).update(consecutive_failures=0, breaker_open_until=None)
    integration.consecutive_failures = 0
    integration.breaker_open_until = None
    if changed and was_tripped:
        metrics.breaker_changed(integration=integration, state="closed")
        audit.record(
            action="integration.breaker_closed",
            actor="system:delivery",
            organization=integration.organization,
            target=integration,
            after={"consecutive_failures": 0},
        )
        return True
    return False


def breaker_reset(*, integration: OrganizationIntegration, actor) -> None:
    """Close the breaker by hand (an operator who knows the provider is back)."""
    OrganizationIntegration.objects.for_org(integration.organization).filter(pk=integration.pk).update(
        consecutive_failures=0, breaker_open_until=None
    )
    audit.record(
        action="integration.breaker_reset",
        actor=actor,
        organization=integration.organization,
        target=integration,
    )
    integration.consecutive_failures = 0
    integration.breaker_open_until = None
