"""Usage figures for the admin's provider screens, read from real Message and Call rows.

Every query starts from the organization. Money stays Decimal; a figure with no rows behind it
is None (shown as "no data"), never a made-up zero rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Avg, Count, Q, Sum
from django.utils import timezone

from integrations.models import Call, Message, Organization, OrganizationIntegration

MESSAGE_SUCCESS = (Message.Status.SENT, Message.Status.DELIVERED, Message.Status.READ)
MESSAGE_FINISHED = (*MESSAGE_SUCCESS, Message.Status.FAILED)
CALL_SUCCESS = (Call.Status.COMPLETED, Call.Status.ANSWERED)
CALL_FINISHED = (*CALL_SUCCESS, Call.Status.BUSY, Call.Status.NO_ANSWER, Call.Status.FAILED)


@dataclass(frozen=True)
class Usage:
    channel: str
    count: int
    minutes: Decimal | None
    cost: Decimal
    currencies: tuple[str, ...]
    success_rate: float | None
    avg_latency_ms: float | None

    @property
    def currency(self) -> str:
        return self.currencies[0] if len(self.currencies) == 1 else ""


def month_start(now: datetime | None = None) -> datetime:
    now = timezone.localtime(now or timezone.now())
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def usage_this_month(
    *,
    organization: Organization,
    channel: str,
    integration: OrganizationIntegration | None = None,
    now=None,
) -> Usage:
    since = month_start(now)
    if channel == "voip":
        rows = Call.objects.for_org(organization).filter(created_at__gte=since, direction="out")
        if integration is not None:
            rows = rows.filter(integration=integration)
        figures = rows.aggregate(
            count=Count("id"),
            seconds=Sum("duration_seconds"),
            cost=Sum("cost"),
            latency=Avg("latency_ms"),
            finished=Count("id", filter=Q(status__in=CALL_FINISHED)),
            succeeded=Count("id", filter=Q(status__in=CALL_SUCCESS)),
        )
        minutes = Decimal(figures["seconds"] or 0) / Decimal(60)
    else:
        rows = Message.objects.for_org(organization).filter(
            created_at__gte=since, channel=channel, direction="out"
        )
        if integration is not None:
            rows = rows.filter(integration=integration)
        figures = rows.aggregate(
            count=Count("id"),
            cost=Sum("cost"),
            latency=Avg("latency_ms"),
            finished=Count("id", filter=Q(status__in=MESSAGE_FINISHED)),
            succeeded=Count("id", filter=Q(status__in=MESSAGE_SUCCESS)),
        )
        minutes = None
    currencies = tuple(sorted(set(rows.exclude(currency="").values_list("currency", flat=True))))
    finished = figures["finished"] or 0
    return Usage(
        channel=channel,
        count=figures["count"] or 0,
        minutes=minutes,
        cost=figures["cost"] or Decimal("0"),
        currencies=currencies,
        success_rate=(figures["succeeded"] * 100.0 / finished) if finished else None,
        avg_latency_ms=figures["latency"],
    )
