"""What the API's channel views and the frontend's existing routes need beyond plain CRUD.

The frontend speaks in providers per channel ("configure meta_cloud for whatsapp", "switch
whatsapp to telnyx"), not in integration rows. These functions translate: they find or create
the organization's integration of that provider and then use the ordinary services
(``integration_create`` / ``integration_update``, ``integration_test_connection``,
``switch_primary``), so the audit trail and the invariants are the same as everywhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Max

from integrations.models import Call, Channel, Message, Organization, OrganizationIntegration
from integrations.services.errors import NotFound, SwitchRefused
from integrations.services.health import integration_test_connection
from integrations.services.integrations import integration_create, integration_update
from integrations.services.switching import SwitchResult, refusal_reason, switch_primary
from providers.registry import UnknownProvider, get_provider_class, get_registry
from providers.values import SECRET_MASK, HealthStatus

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
        raise NotFound(f"Unknown channel '{channel}'; use one of: {', '.join(Channel.values)}.")
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
    rows = list(OrganizationIntegration.objects.for_org(organization).for_channel(channel).in_route_order())
    primary = next((row for row in rows if row.is_primary), None)
    fallbacks = [row for row in rows if not row.is_primary and row.status == Status.ACTIVE]
    if not rows:
        status = CHANNEL_NOT_CONFIGURED
    elif primary is None:
        status = CHANNEL_DOWN
    elif primary.health_status == Health.DOWN or primary.breaker_is_open():
        usable = any(refusal_reason(row) is None and row.health_status != Health.DOWN for row in fallbacks)
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
    rows = list(OrganizationIntegration.objects.for_org(organization).for_channel(channel).in_route_order())
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


def _provider_for_channel(*, provider_name: str, channel: str, field: str):
    try:
        provider_class = get_provider_class(str(provider_name))
    except UnknownProvider:
        raise ValidationError({field: [f"Unknown provider '{provider_name}'."]}) from None
    if provider_class.channel != channel:
        raise ValidationError(
            {field: [f"{provider_class.display_name} is a {provider_class.channel} provider, not {channel}."]}
        )
    return provider_class


def split_config_data(provider_class, config_data: Mapping[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Separate one flat settings dict into (config, credentials) by the provider's secret flags.

    A masked hint sent back unchanged (``••••8901``) means "keep the stored value".
    """
    secret_names = set(provider_class.secret_field_names())
    config, credentials = {}, {}
    for key, value in (config_data or {}).items():
        if key in secret_names:
            if isinstance(value, str) and value.startswith(SECRET_MASK):
                continue
            credentials[key] = value
        else:
            config[key] = value
    return config, credentials


def _unique_display_name(*, organization: Organization, channel: str, wanted: str) -> str:
    taken = set(OrganizationIntegration.objects.for_org(organization).for_channel(channel).values_list("display_name", flat=True))
    name, n = wanted, 2
    while name in taken:
        name, n = f"{wanted} ({n})", n + 1
    return name


@dataclass(frozen=True)
class ConfigureResult:
    integration: OrganizationIntegration
    created: bool
    message: str


def provider_configure(
    *,
    organization: Organization,
    channel: str,
    provider_name: str,
    config_data: Mapping[str, Any] | None,
    is_active: bool,
    actor: Any,
) -> ConfigureResult:
    """Create or update this organization's integration of ``provider_name``.

    With ``is_active`` and no primary on the channel yet, the integration is tested and, when
    the test passes, activated and made primary. A failed test leaves it configured, not active.
    """
    check_channel(channel)
    provider_class = _provider_for_channel(provider_name=provider_name, channel=channel, field="provider_type")
    config, credentials = split_config_data(provider_class, config_data)
    existing = (
        OrganizationIntegration.objects.for_org(organization)
        .for_channel(channel)
        .filter(provider_name=provider_class.name)
        .in_route_order()
        .first()
    )
    if existing is None:
        integration = integration_create(
            organization=organization,
            provider_name=provider_class.name,
            display_name=_unique_display_name(organization=organization, channel=channel, wanted=provider_class.display_name),
            config=config,
            credentials=credentials,
            actor=actor,
        )
    else:
        integration = integration_update(
            integration=existing,
            config={**existing.config, **config},
            credentials=credentials,
            actor=actor,
        )
    message = f"{integration.display_name} is configured."
    has_primary = OrganizationIntegration.objects.for_org(organization).for_channel(channel).filter(is_primary=True).exists()
    if is_active and not has_primary:
        problem = _activate(integration=integration, actor=actor)
        if problem:
            message += f" It was not activated: {problem}"
        else:
            integration.refresh_from_db()
            if not integration.is_primary:
                switch_primary(organization=organization, channel=channel, target=integration, actor=actor,
                               reason="Configured as the first active provider")
            message = f"{integration.display_name} is configured and is now the primary {channel} provider."
    integration.refresh_from_db()
    return ConfigureResult(integration=integration, created=existing is None, message=message)


def _activate(*, integration: OrganizationIntegration, actor: Any) -> str | None:
    """Test the connection and make the integration active; the reason it failed, or None."""
    health = integration_test_connection(integration=integration, actor=actor)
    if health.status != HealthStatus.HEALTHY:
        return f"the connection test reported {health.status.value} ({health.detail or 'no detail'})."
    integration.refresh_from_db()
    if integration.status != Status.ACTIVE:
        integration_update(integration=integration, status=Status.ACTIVE, actor=actor, reason="Connection test passed")
    integration.refresh_from_db()
    problem = refusal_reason(integration)
    return problem


@dataclass(frozen=True)
class ProviderSwitchResult:
    integration: OrganizationIntegration
    switch: SwitchResult
    message: str


def provider_switch(
    *,
    organization: Organization,
    channel: str,
    provider_name: str,
    config_data: Mapping[str, Any] | None,
    actor: Any,
    reason: str = "",
) -> ProviderSwitchResult:
    """Configure ``provider_name`` if needed, test it, and make it the channel's primary.

    Raises ``SwitchRefused`` when the test fails or the provider cannot take traffic; the old
    primary then stays primary.
    """
    check_channel(channel)
    provider_class = _provider_for_channel(provider_name=provider_name, channel=channel, field="provider_type")
    integration = (
        OrganizationIntegration.objects.for_org(organization)
        .for_channel(channel)
        .filter(provider_name=provider_class.name)
        .in_route_order()
        .first()
    )
    if integration is None or config_data:
        integration = provider_configure(
            organization=organization,
            channel=channel,
            provider_name=provider_class.name,
            config_data=config_data,
            is_active=False,
            actor=actor,
        ).integration
    problem = _activate(integration=integration, actor=actor)
    if problem:
        raise SwitchRefused(
            f"{integration.display_name} cannot become the primary {channel} provider: {problem} "
            "The primary was not changed.",
            code="test_failed",
        )
    result = switch_primary(
        organization=organization,
        channel=channel,
        target=integration,
        actor=actor,
        reason=reason or f"Switched to {provider_class.display_name} from the frontend",
    )
    message = (
        f"Switched the {channel} primary to {integration.display_name}."
        if result.switched
        else f"{integration.display_name} already is the primary {channel} provider."
    )
    return ProviderSwitchResult(integration=result.current, switch=result, message=message)


def integration_for_org(*, organization: Organization, integration_id: Any) -> OrganizationIntegration:
    """This organization's integration with that id; ``NotFound`` for anything else, including
    another organization's integration (its existence is not confirmed)."""
    try:
        return OrganizationIntegration.objects.for_org(organization).get(pk=integration_id)
    except (OrganizationIntegration.DoesNotExist, ValueError, ValidationError):
        raise NotFound("No such integration.") from None


def primary_switch_by_id(
    *, organization: Organization, channel: str, integration_id: Any, actor: Any, reason: str = ""
) -> SwitchResult:
    """Switch to an integration given by id, after checking it is this organization's."""
    check_channel(channel)
    integration = integration_for_org(organization=organization, integration_id=integration_id)
    return switch_primary(organization=organization, channel=channel, target=integration, actor=actor, reason=reason)


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
