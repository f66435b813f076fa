"""How an organization's channels stand: what the API's channel views and the frontend's
existing routes show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Max
from django.utils.translation import gettext as _

from integrations.errors import NotFound
from integrations.models import Call, Channel, Message, Organization, OrganizationIntegration
from integrations.selectors.integrations import channel_integrations
from providers.registry import get_registry

Status = OrganizationIntegration.Status
Health = OrganizationIntegration.Health

# Channel status in the API: the primary carries traffic normally ("ok"), traffic flows but
# something is wrong ("degraded"), nothing can carry traffic ("down"), or nothing is set up.
CHANNEL_OK, CHANNEL_DEGRADED, CHANNEL_DOWN, CHANNEL_NOT_CONFIGURED = "ok", "degraded", "down", "not_configured"

# Connection latency below which a healthy provider counts as "excellent" for the frontend.
EXCELLENT_LATENCY_MS = 300


def check_channel(channel: str) -> str:
    """The channel value, or ``NotFound`` (an unknown channel is an unknown resource)."""
    if channel not in Channel.values:
        raise NotFound(_("Unknown channel '%(channel)s'; use one of: %(channels)s.") % {"channel": channel, "channels": ", ".join(Channel.values)})
    return channel


@dataclass(frozen=True)
class ChannelOverview:
    channel: str
    primary: OrganizationIntegration | None
    fallbacks: list[OrganizationIntegration]
    status: str


def channel_overview(*, organization: Organization, channel: str) -> ChannelOverview:
    """The primary, the active fallbacks in route order, and a one-word status."""
    check_channel(channel)
    rows = channel_integrations(organization=organization, channel=channel)
    primary = next((row for row in rows if row.is_primary), None)
    fallbacks = [row for row in rows if not row.is_primary and row.status == Status.ACTIVE]
    if not rows:
        status = CHANNEL_NOT_CONFIGURED
    elif primary is None:
        status = CHANNEL_DOWN
    elif primary.health_status == Health.DOWN or primary.breaker_is_open():
        usable = any(row.can_be_primary() and row.health_status != Health.DOWN for row in fallbacks)
        status = CHANNEL_DEGRADED if usable else CHANNEL_DOWN
    elif primary.health_status == Health.DEGRADED:
        status = CHANNEL_DEGRADED
    else:
        status = CHANNEL_OK
    return ChannelOverview(channel=channel, primary=primary, fallbacks=fallbacks, status=status)


def provider_names(*, channel: str) -> list[str]:
    check_channel(channel)
    return [provider_class.name for provider_class in get_registry().all(channel)]


def _last_activity(*, organization: Organization, channel: str, rows: list[OrganizationIntegration]) -> datetime | None:
    model = Call if channel == Channel.VOIP else Message
    scoped = model.objects.for_org(organization)
    if model is Message:
        scoped = scoped.filter(channel=channel)
    moments = [scoped.aggregate(latest=Max("updated_at"))["latest"]]
    for row in rows:
        moments += [row.health_checked_at, row.updated_at]
    moments = [moment for moment in moments if moment is not None]
    return max(moments) if moments else None


def _connection_quality(integration: OrganizationIntegration | None) -> str:
    if integration is None or integration.status != Status.ACTIVE or integration.breaker_is_open():
        return "disconnected"
    if integration.health_status == Health.DOWN:
        return "disconnected"
    if integration.health_status == Health.DEGRADED:
        return "poor"
    if integration.health_status == Health.HEALTHY and (integration.health_latency_ms or 0) < EXCELLENT_LATENCY_MS:
        return "excellent"
    return "good"


def current_provider(*, organization: Organization, channel: str) -> dict[str, Any]:
    """The frontend's view of a channel: the provider in charge and how it is doing."""
    check_channel(channel)
    rows = channel_integrations(organization=organization, channel=channel)
    if not rows:
        return {"provider": None, "status": "not_configured", "connection_quality": "disconnected", "last_activity": None}
    current = next((row for row in rows if row.is_primary), rows[0])
    if current.status == Status.ERROR or current.health_status == Health.DOWN:
        status = "error"
    elif current.is_primary:
        status = "active"
    else:
        status = "configured"
    last = _last_activity(organization=organization, channel=channel, rows=rows)
    return {
        "provider": current.provider_name,
        "status": status,
        "connection_quality": _connection_quality(current),
        "last_activity": last.isoformat() if last else None,
    }


def providers_overview(*, organization: Organization, channel: str | None = None) -> list[dict[str, Any]]:
    """Every registered provider with this organization's state of it (configured, primary)."""
    if channel:
        check_channel(channel)
    rows = list(OrganizationIntegration.objects.for_org(organization).in_route_order())
    overview = []
    for provider_class in get_registry().all(channel):
        mine = [row for row in rows if row.provider_name == provider_class.name]
        current = next((row for row in mine if row.is_primary), mine[0] if mine else None)
        overview.append(
            {
                "name": provider_class.name,
                "channel": provider_class.channel.value,
                "display_name": provider_class.display_name,
                "configured": bool(mine),
                "is_primary": bool(current and current.is_primary),
                "status": current.status if current else None,
            }
        )
    return overview
