"""Setting up a provider the way the frontend asks for it: by provider name, per channel.

The frontend speaks in providers per channel ("configure meta_cloud for whatsapp", "switch
whatsapp to telnyx"), not in integration rows. These functions translate: they find or create
the organization's integration of that provider and then use the ordinary services
(``integration_create`` / ``integration_update``, ``integration_test_connection``,
``switch_primary``), so the audit trail and the invariants are the same as everywhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError

from integrations.errors import SwitchRefused
from integrations.models import Organization, OrganizationIntegration
from integrations.selectors.channels import check_channel
from integrations.selectors.integrations import (
    integration_for_org,
    primary_integration,
    provider_integration,
    unique_display_name,
)
from integrations.services.health import integration_test_connection
from integrations.services.integrations import integration_create, integration_update
from integrations.services.switching import SwitchResult, refusal_reason, switch_primary
from providers.config import split_settings
from providers.registry import UnknownProvider, get_provider_class
from providers.values import HealthStatus

Status = OrganizationIntegration.Status


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
    config, credentials = split_settings(provider_class.config_fields, config_data)
    existing = provider_integration(organization=organization, channel=channel, provider_name=provider_class.name)
    if existing is None:
        integration = integration_create(
            organization=organization,
            provider_name=provider_class.name,
            display_name=unique_display_name(organization=organization, channel=channel, wanted=provider_class.display_name),
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
    if is_active and primary_integration(organization=organization, channel=channel) is None:
        # Activation makes it primary: the first active integration of a channel becomes its
        # primary (``switching.promote_if_first_active``).
        problem = _activate(integration=integration, actor=actor)
        integration.refresh_from_db()
        if problem:
            message += f" It was not activated: {problem}"
        elif integration.is_primary:
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
    integration = provider_integration(organization=organization, channel=channel, provider_name=provider_class.name)
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


def primary_switch_by_id(
    *, organization: Organization, channel: str, integration_id: Any, actor: Any, reason: str = ""
) -> SwitchResult:
    """Switch to an integration given by id, after checking it is this organization's."""
    check_channel(channel)
    integration = integration_for_org(organization=organization, integration_id=integration_id)
    return switch_primary(organization=organization, channel=channel, target=integration, actor=actor, reason=reason)


