"""Reads of routing policies: a channel's policy and the share each integration carried."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Case, Count, IntegerField, Q, Sum, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from integrations.errors import NotFound
from integrations.models import (
    Call,
    Channel,
    ChannelPolicy,
    Message,
    Organization,
    OrganizationIntegration,
    Rollout,
    ScheduledSwitch,
    SpendCap,
)
from integrations.selectors.channels import check_channel

CARRIED_WINDOW = timedelta(hours=1)


def policy_get(*, organization: Organization, channel: str) -> ChannelPolicy:
    """The channel's policy; a channel that never had one is in ``primary`` mode (version 0,
    not saved)."""
    check_channel(channel)
    policy = ChannelPolicy.objects.for_org(organization).filter(channel=channel).first()
    return policy or ChannelPolicy(organization=organization, channel=channel, version=0)


def policy_list(*, organization: Organization | None = None):
    queryset = ChannelPolicy.objects.select_related("organization").order_by("organization__slug", "channel")
    return queryset.filter(organization=organization) if organization is not None else queryset


@dataclass(frozen=True)
class CarriedShare:
    integration_id: str
    display_name: str
    weight: int | None
    sent: int
    share: float  # percent of what the channel sent in the window, one decimal


@dataclass(frozen=True)
class CarriedShares:
    since: datetime
    total: int
    integrations: list[CarriedShare]


def carried_shares(*, organization: Organization, channel: str, policy: ChannelPolicy,
                   now: datetime | None = None) -> CarriedShares:
    """What each of the channel's integrations actually carried since ``now - CARRIED_WINDOW``:
    outbound messages (calls for voip) sent through it, by when they were handed over."""
    since = (now or timezone.now()) - CARRIED_WINDOW
    if channel == Channel.VOIP:
        rows = Call.objects.for_org(organization).filter(started_at__gte=since)
    else:
        rows = Message.objects.for_org(organization).filter(channel=channel, sent_at__gte=since)
    counts = dict(
        rows.filter(direction=Message.Direction.OUTBOUND, integration__isnull=False)
        .values_list("integration").annotate(n=Count("id")).values_list("integration", "n")
    )
    total = sum(counts.values())
    weights = policy.weights or {}
    integrations = OrganizationIntegration.objects.for_org(organization).for_channel(channel).in_route_order()
    shares = [
        CarriedShare(
            integration_id=str(row.pk), display_name=row.display_name,
            weight=weights.get(str(row.pk)) if policy.mode == ChannelPolicy.Mode.SPLIT else None,
            sent=counts.get(row.pk, 0),
            share=round(100 * counts.get(row.pk, 0) / total, 1) if total else 0.0,
        )
        for row in integrations
        if row.status == OrganizationIntegration.Status.ACTIVE or row.pk in counts
    ]
    return CarriedShares(since=since, total=total, integrations=shares)


def scheduled_switch_list(*, organization: Organization, channel: str):
    """The channel's scheduled switches: the pending ones first, each group in time order."""
    check_channel(channel)
    return (
        ScheduledSwitch.objects.for_org(organization).filter(channel=channel)
        .annotate(open_first=Case(When(status=ScheduledSwitch.Status.PENDING, then=Value(0)), default=Value(1),
                                  output_field=IntegerField()))
        .order_by("open_first", "at", "id")
    )


# Attempt outcomes (delivery/records.py) that count against an integration in a rollout's guard:
# it was tried and did not take the message. Skipped (breaker open) is not an attempt.
FAILED_OUTCOMES = frozenset({"unavailable", "rejected"})
SENT_OUTCOMES = frozenset({"sent", "reconciled"})
GUARD_SCAN_LIMIT = 50_000


@dataclass(frozen=True)
class AttemptStats:
    attempts: int
    failures: int

    @property
    def failure_rate(self) -> float:
        return self.failures / self.attempts if self.attempts else 0.0


def _attempt_time(attempt: dict) -> datetime:
    try:
        return datetime.fromisoformat(str(attempt.get("at")))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


def integration_attempt_stats(*, organization: Organization, channel: str, integration_id, since: datetime) -> AttemptStats:
    """How the integration's attempts went since ``since``: every attempt recorded on the
    channel's rows (messages, calls for voip) that names it, by the attempt's own time. Reads at
    most ``GUARD_SCAN_LIMIT`` rows, the most recently changed first."""
    model = Call if channel == Channel.VOIP else Message
    rows = model.objects.for_org(organization).filter(updated_at__gte=since)
    if model is Message:
        rows = rows.filter(channel=channel)
    wanted = str(integration_id)
    attempts = failures = 0
    for row_attempts in rows.order_by("-updated_at").values_list("attempts", flat=True)[:GUARD_SCAN_LIMIT]:
        for attempt in row_attempts or ():
            if attempt.get("integration") != wanted or _attempt_time(attempt) < since:
                continue
            if attempt.get("outcome") in FAILED_OUTCOMES:
                attempts, failures = attempts + 1, failures + 1
            elif attempt.get("outcome") in SENT_OUTCOMES:
                attempts += 1
    return AttemptStats(attempts=attempts, failures=failures)


def rollout_list(*, organization: Organization, channel: str):
    check_channel(channel)
    return Rollout.objects.for_org(organization).filter(channel=channel).order_by("-created_at", "-id")


def running_rollout(*, organization: Organization, channel: str) -> Rollout | None:
    return Rollout.objects.for_org(organization).filter(channel=channel, status=Rollout.Status.RUNNING).first()


def rollout_get(*, organization: Organization, channel: str, rollout_id) -> Rollout:
    check_channel(channel)
    rollout = Rollout.objects.for_org(organization).filter(channel=channel, pk=rollout_id).first()
    if rollout is None:
        raise NotFound(_("No such rollout."))
    return rollout


def month_to_date_spend(*, integration_id, currency: str, since: datetime) -> Decimal:
    """What the integration's outbound messages and calls cost since ``since`` in ``currency``
    (rows priced in another currency are not converted: they do not count)."""
    total = Decimal("0")
    for model in (Message, Call):
        value = (model.objects.filter(integration_id=integration_id, direction=Message.Direction.OUTBOUND,
                                      created_at__gte=since, currency__iexact=currency)
                 .aggregate(total=Sum("cost"))["total"])
        total += value or Decimal("0")
    return total


def spend_cap_list(*, organization: Organization, channel: str):
    check_channel(channel)
    return (SpendCap.objects.for_org(organization).filter(integration__channel=channel)
            .select_related("integration").order_by("integration__display_name"))


@dataclass(frozen=True)
class ReceiptStats:
    judged: int  # messages sent at least ``timeout`` ago
    missing: int  # of those, without a delivered or read receipt (or failed after sending)

    @property
    def missing_rate(self) -> float:
        return self.missing / self.judged if self.judged else 0.0


def receipt_stats(*, organization: Organization, channel: str, integration_id, since: datetime, timeout_seconds: int,
                  now: datetime | None = None) -> ReceiptStats:
    """Messages the integration sent since ``since`` and at least ``timeout_seconds`` ago, and
    how many of them still have no delivery receipt: a receipt slower than the timeout counts as
    missing, so this is the receipt-latency signal too."""
    if channel == Channel.VOIP:
        return ReceiptStats(0, 0)
    cutoff = (now or timezone.now()) - timedelta(seconds=timeout_seconds)
    rows = Message.objects.for_org(organization).filter(
        channel=channel, integration_id=integration_id, direction=Message.Direction.OUTBOUND,
        sent_at__gte=since, sent_at__lte=cutoff,
    )
    figures = rows.aggregate(
        judged=Count("id"),
        missing=Count("id", filter=Q(delivered_at__isnull=True, read_at__isnull=True)
                      | Q(status=Message.Status.FAILED)),
    )
    return ReceiptStats(judged=figures["judged"] or 0, missing=figures["missing"] or 0)


def capped_integration_ids(*, organization: Organization, channel: str) -> set:
    """Integrations of the channel whose spend cap is reached (routing leaves them out)."""
    return set(SpendCap.objects.for_org(organization).filter(integration__channel=channel, reached=True)
               .values_list("integration_id", flat=True))


def spend_cap_of(*, integration) -> SpendCap | None:
    return SpendCap.objects.filter(integration=integration).first()


def receipts_breach(*, organization: Organization, channel: str, integration_id, now: datetime) -> ReceiptStats | None:
    """The integration's recent messages when too many lack a delivery receipt — the
    health checks' receipt signal (``HEALTH_RECEIPT_*`` settings; off while the timeout is 0) —
    else None."""
    timeout = settings.HEALTH_RECEIPT_TIMEOUT_SECONDS
    if timeout <= 0:
        return None
    stats = receipt_stats(organization=organization, channel=channel, integration_id=integration_id, now=now,
                          since=now - timedelta(seconds=settings.HEALTH_RECEIPT_WINDOW_SECONDS), timeout_seconds=timeout)
    if stats.judged >= settings.HEALTH_RECEIPT_MIN_SAMPLE and stats.missing_rate > settings.HEALTH_RECEIPT_MAX_MISSING_RATE:
        return stats
    return None


def open_policy_jobs(*, organization: Organization | None = None) -> dict:
    """Pending scheduled switches, running rollouts and spend caps (every organization's, or
    one's), for operators."""
    scope = {"organization": organization} if organization is not None else {}
    return {
        "scheduled_switches": list(ScheduledSwitch.objects.filter(status=ScheduledSwitch.Status.PENDING, **scope)
                                   .select_related("organization").order_by("at", "id")),
        "rollouts": list(Rollout.objects.filter(status=Rollout.Status.RUNNING, **scope)
                         .select_related("organization").order_by("created_at", "id")),
        "spend_caps": list(SpendCap.objects.filter(**scope).select_related("organization", "integration")
                           .order_by("organization__slug", "integration__display_name")),
    }
