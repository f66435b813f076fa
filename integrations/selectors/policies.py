"""Reads of routing policies: a channel's policy and the share each integration carried."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Case, Count, IntegerField, Value, When
from django.utils import timezone

from integrations.models import (
    Call,
    Channel,
    ChannelPolicy,
    Message,
    Organization,
    OrganizationIntegration,
    ScheduledSwitch,
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
