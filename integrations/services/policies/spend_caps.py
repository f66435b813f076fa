"""Spend caps: a monthly budget per integration; routing skips an integration that reached it.

``set_spend_cap`` / ``remove_spend_cap`` are audited (``spend_cap.changed``) and bump the route
version. ``evaluate_spend_caps`` (every ``run_policy_jobs`` tick, and right after a cap changes)
sums each capped integration's month-to-date cost in the cap's currency (the month in
``settings.TIME_ZONE``), notifies the organization once per month at 80 % and at 100 %, and flips
``reached``; a flip bumps the route version, so every worker stops (or resumes) routing to it at
once. Between two ticks an integration can overshoot its budget by what it sends in that window:
the cap is a guard on spend, not an exact ceiling.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from audit import services as audit
from integrations.errors import NotFound
from integrations.models import Organization, SpendCap
from integrations.selectors.channels import check_channel
from integrations.selectors.integrations import integration_for_org
from integrations.selectors.policies import month_to_date_spend
from integrations.selectors.usage import month_start
from integrations.services import notifications
from integrations.services.routing import invalidate_route

logger = logging.getLogger(__name__)

CHANGED = "spend_cap.changed"
WARNING, REACHED = "spend_cap.warning", "spend_cap.reached"
THRESHOLDS = (80, 100)
MAX_BUDGET = Decimal("100000000")


def _integration(organization: Organization, channel: str, integration_id: Any):
    check_channel(channel)
    integration = integration_for_org(organization=organization, integration_id=integration_id)
    if integration.channel != channel:
        raise NotFound(_("No such integration."))
    return integration


def set_spend_cap(*, organization: Organization, channel: str, integration_id: Any, monthly_budget: Any,
                  currency: str, actor: Any, reason: str = "") -> SpendCap:
    """Set (or change) the integration's monthly budget."""
    integration = _integration(organization, channel, integration_id)
    try:
        budget = Decimal(str(monthly_budget))
    except (InvalidOperation, ValueError):
        budget = Decimal("-1")
    if not budget.is_finite() or not Decimal("0") < budget <= MAX_BUDGET:
        raise ValidationError({"monthly_budget": [_("A monthly budget is a positive amount up to %(max)s.") % {"max": MAX_BUDGET}]})
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
        raise ValidationError({"currency": [_("A currency is a three-letter code such as USD.")]})
    with transaction.atomic():
        cap = SpendCap.objects.select_for_update().filter(integration=integration).first()
        before = cap.snapshot() if cap else None
        cap = cap or SpendCap(organization=organization, integration=integration)
        cap.monthly_budget, cap.currency = budget, currency.upper()
        cap.updated_by = actor if getattr(actor, "pk", None) and not isinstance(actor, str) else None
        cap.save()
        _evaluate(cap, timezone.now(), notify=False)
        audit.record(action=CHANGED, actor=actor, organization=organization, target=integration, before={"spend_cap": before},
                     after={"spend_cap": cap.snapshot()}, reason=reason)
        transaction.on_commit(lambda: invalidate_route(organization_id=organization.pk, channel=channel))
    return cap


def remove_spend_cap(*, organization: Organization, channel: str, integration_id: Any, actor: Any, reason: str = "") -> None:
    integration = _integration(organization, channel, integration_id)
    with transaction.atomic():
        cap = SpendCap.objects.select_for_update().filter(integration=integration).first()
        if cap is None:
            raise NotFound(_("This integration has no spend cap."))
        before = cap.snapshot()
        cap.delete()
        audit.record(action=CHANGED, actor=actor, organization=organization, target=integration,
                     before={"spend_cap": before}, after={"spend_cap": None}, reason=reason)
        transaction.on_commit(lambda: invalidate_route(organization_id=organization.pk, channel=channel))


def _evaluate(cap: SpendCap, now: datetime, *, notify: bool = True) -> bool:
    """Bring one cap up to date; True when ``reached`` flipped. Call inside a transaction."""
    since = month_start(now)
    month = timezone.localtime(since).date()
    if cap.month != month:
        cap.month, cap.notified_percent = month, 0
    cap.spent = month_to_date_spend(integration_id=cap.integration_id, currency=cap.currency, since=since)
    percent = int(cap.spent * 100 / cap.monthly_budget) if cap.monthly_budget else 100
    was_reached, cap.reached = cap.reached, percent >= 100
    crossed = [t for t in THRESHOLDS if percent >= t > cap.notified_percent]
    if crossed:
        cap.notified_percent = crossed[-1]
        if notify:
            integration = cap.integration
            reached = crossed[-1] >= 100
            notifications.notify(
                organization=cap.organization, event=REACHED if reached else WARNING,
                summary=format_lazy(
                    gettext_lazy("{name} reached its monthly budget; routing skips it") if reached
                    else gettext_lazy("{name} used {percent}% of its monthly budget"),
                    name=integration.display_name, percent=percent),
                data={"integration": str(integration.pk), "channel": integration.channel, "percent": percent,
                      "spent": str(cap.spent), "monthly_budget": str(cap.monthly_budget), "currency": cap.currency},
            )
    cap.evaluated_at = now
    cap.save(update_fields=["month", "spent", "notified_percent", "reached", "evaluated_at", "updated_at"])
    return was_reached != cap.reached


def evaluate_spend_caps(*, now: datetime | None = None) -> int:
    """Re-evaluate every spend cap; returns how many flipped (reached or released)."""
    now = now or timezone.now()
    flipped = 0
    for cap_id in SpendCap.objects.order_by("id").values_list("id", flat=True):
        try:
            with transaction.atomic():
                cap = (SpendCap.objects.select_for_update(skip_locked=True).select_related("organization", "integration")
                       .filter(pk=cap_id).first())
                if cap is None:
                    continue
                if _evaluate(cap, now):
                    flipped += 1
                    organization_id, channel = cap.organization_id, cap.integration.channel
                    transaction.on_commit(lambda o=organization_id, c=channel: invalidate_route(organization_id=o, channel=c))
        except Exception:  # one cap failing to evaluate never stops the others
            logger.exception("Spend cap %s could not be evaluated", cap_id)
    return flipped
