"""Usage: what an organization's messages and calls amount to. The ONE definition of what
counts, used by the dashboard, the provider detail page and cost analytics alike.

Every query starts from the organization. Grouping happens in the database; pricing happens in
Python with ``Decimal`` (``integrations.services.costs``).

What counts (also in ``docs/COSTS.md``):
- only outbound rows in the period (``created_at``, calendar months in ``settings.TIME_ZONE``);
- a *billable* message is one the provider accepted: ``sent``, ``delivered`` or ``read``;
- a *billable* call is ``completed`` with a duration above zero;
- a message is *accepted* when the provider took it (``sent``, ``delivered``, ``read``) and
  *failed* when it is ``failed``; a call is *accepted* once the provider placed it (initiated,
  ringing, answered, completed, busy, no answer: whether someone picked up is not the
  provider's reliability) and *failed* when it is ``failed``;
- success rate = accepted / (accepted + failed); rows still queued or in flight count in
  neither; latency is the mean of ``latency_ms`` over rows that have one.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Avg, Count, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from integrations.models import Call, Channel, Message, Organization, OrganizationIntegration
from providers import events

ZERO = Decimal("0")

MESSAGE_BILLABLE = (events.STATUS_SENT, events.STATUS_DELIVERED, events.STATUS_READ)
MESSAGE_FAILED = (events.STATUS_FAILED,)
CALL_BILLABLE = (events.CALL_COMPLETED,)
# The provider placed the call; whether anyone picked up is not the provider's reliability.
CALL_ACCEPTED = (
    events.CALL_INITIATED,
    events.CALL_RINGING,
    events.CALL_ANSWERED,
    events.CALL_COMPLETED,
    events.CALL_BUSY,
    events.CALL_NO_ANSWER,
)
CALL_FAILED = (events.CALL_FAILED,)


@dataclass
class UsageGroup:
    """One (month, integration) of one channel: counts, recorded costs and the raw volumes
    needed to price the same usage on another provider."""

    month: dt.date
    channel: str
    integration_id: uuid.UUID | None
    provider_name: str
    accepted: int = 0
    failed: int = 0
    billable: int = 0
    provider_cost: Decimal = ZERO  # sum of costs the provider reported
    recorded_cost: Decimal = ZERO  # sum of catalog costs stored at send time
    # Billable rows with no stored cost, to be priced now: category → count, or duration → count.
    unpriced: dict = field(default_factory=dict)
    # Every billable row: message category → count, or call duration (s) → count.
    volumes: dict = field(default_factory=dict)
    latency_total: int = 0
    latency_count: int = 0

    @property
    def key(self) -> str:
        return str(self.integration_id) if self.integration_id else f"deleted:{self.provider_name}"


def month_starts(*, months: int, now: dt.datetime | None = None) -> list[dt.date]:
    """The first day of each of the last ``months`` calendar months, the current one last."""
    today = timezone.localtime(now or timezone.now()).date()
    year, month = today.year, today.month
    starts = []
    for _ in range(max(months, 1)):
        starts.append(dt.date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return list(reversed(starts))


def next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def _aware(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime(day.year, day.month, day.day), timezone.get_current_timezone())


def _month_of(value) -> dt.date:
    if isinstance(value, dt.datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
        return value.date().replace(day=1)
    return value.replace(day=1)


def usage_groups(
    *, organization: Organization, channel: str, start: dt.date, end: dt.date
) -> list[UsageGroup]:
    """Usage of ``channel`` from ``start`` (inclusive) to ``end`` (exclusive), per month and
    integration, oldest month first."""
    window = {"created_at__gte": _aware(start), "created_at__lt": _aware(end)}
    if channel == Channel.VOIP:
        rows = (
            Call.objects.for_org(organization)
            .filter(direction=Message.Direction.OUTBOUND, **window)
            .annotate(month=TruncMonth("created_at"))
            .values("month", "integration_id", "provider_name", "duration_seconds")
            .annotate(**_aggregates(Q(status__in=CALL_BILLABLE, duration_seconds__gt=0), CALL_ACCEPTED, CALL_FAILED))
            .order_by()
        )
        volume_field = "duration_seconds"
    else:
        rows = (
            Message.objects.for_org(organization)
            .filter(channel=channel, direction=Message.Direction.OUTBOUND, **window)
            .annotate(month=TruncMonth("created_at"))
            .values("month", "integration_id", "provider_name", "category")
            .annotate(**_aggregates(Q(status__in=MESSAGE_BILLABLE), MESSAGE_BILLABLE, MESSAGE_FAILED))
            .order_by()
        )
        volume_field = "category"

    groups: dict[tuple, UsageGroup] = {}
    for row in rows:
        month = _month_of(row["month"])
        key = (month, row["integration_id"], row["integration_id"] is None and row["provider_name"])
        group = groups.get(key)
        if group is None:
            group = groups[key] = UsageGroup(
                month=month, channel=channel, integration_id=row["integration_id"], provider_name=row["provider_name"]
            )
        volume_key = row[volume_field] or (0 if channel == Channel.VOIP else "")
        group.accepted += row["accepted"]
        group.failed += row["failed"]
        group.billable += row["billable"]
        group.provider_cost += row["provider_cost"] or ZERO
        group.recorded_cost += row["recorded_cost"] or ZERO
        if row["billable"]:
            group.volumes[volume_key] = group.volumes.get(volume_key, 0) + row["billable"]
        if row["unpriced"]:
            group.unpriced[volume_key] = group.unpriced.get(volume_key, 0) + row["unpriced"]
        group.latency_total += row["latency_total"] or 0
        group.latency_count += row["latency_count"]
    return sorted(groups.values(), key=lambda g: (g.month, g.provider_name, g.key))


def _aggregates(billable: Q, accepted_statuses, failed_statuses) -> dict:
    provider_reported = Q(cost_source="provider", cost__isnull=False)
    return {
        "billable": Count("id", filter=billable),
        "accepted": Count("id", filter=Q(status__in=accepted_statuses)),
        "failed": Count("id", filter=Q(status__in=failed_statuses)),
        "provider_cost": Sum("cost", filter=billable & provider_reported),
        "recorded_cost": Sum("cost", filter=billable & Q(cost__isnull=False) & ~Q(cost_source="provider")),
        "unpriced": Count("id", filter=billable & Q(cost__isnull=True)),
        "latency_total": Sum("latency_ms"),
        "latency_count": Count("latency_ms"),
    }


# --------------------------------------------------------------------------- this month, at a glance


@dataclass(frozen=True)
class Usage:
    """One channel's (or one integration's) usage this month, for the admin's cards."""

    channel: str
    count: int
    minutes: Decimal | None
    cost: Decimal
    currencies: tuple[str, ...]
    success_rate: float | None  # percent, by the module's one definition
    avg_latency_ms: float | None

    @property
    def currency(self) -> str:
        return self.currencies[0] if len(self.currencies) == 1 else ""


def month_start(now: dt.datetime | None = None) -> dt.datetime:
    return _aware(month_starts(months=1, now=now)[0])


def usage_this_month(
    *,
    organization: Organization,
    channel: str,
    integration: OrganizationIntegration | None = None,
    now: dt.datetime | None = None,
) -> Usage:
    since = month_start(now)
    if channel == Channel.VOIP:
        rows = Call.objects.for_org(organization)
        accepted, failed = CALL_ACCEPTED, CALL_FAILED
        extra = {"seconds": Sum("duration_seconds")}
    else:
        rows = Message.objects.for_org(organization).filter(channel=channel)
        accepted, failed = MESSAGE_BILLABLE, MESSAGE_FAILED
        extra = {}
    rows = rows.filter(created_at__gte=since, direction=Message.Direction.OUTBOUND)
    if integration is not None:
        rows = rows.filter(integration=integration)
    figures = rows.aggregate(
        count=Count("id"),
        cost=Sum("cost"),
        latency=Avg("latency_ms"),
        accepted=Count("id", filter=Q(status__in=accepted)),
        failed=Count("id", filter=Q(status__in=failed)),
        **extra,
    )
    currencies = tuple(sorted(set(rows.exclude(currency="").values_list("currency", flat=True))))
    finished = figures["accepted"] + figures["failed"]
    return Usage(
        channel=channel,
        count=figures["count"] or 0,
        minutes=Decimal(figures["seconds"] or 0) / Decimal(60) if channel == Channel.VOIP else None,
        cost=figures["cost"] or Decimal("0"),
        currencies=currencies,
        success_rate=(figures["accepted"] * 100.0 / finished) if finished else None,
        avg_latency_ms=figures["latency"],
    )
