"""Where a channel's traffic could go (configured integrations and catalog entries), each
with its price model, and the rules and definitions every cost figure follows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from integrations.models import Organization, OrganizationIntegration
from integrations.selectors.integrations import integration_list
from integrations.services.costs.price_words import price_model_label
from providers.catalog import CATALOG, catalog_for_channel
from providers.pricing import (
    PriceModel,
    to_decimal,
)
from providers.pricing_overrides import priced_with_overrides
from providers.registry import UnknownProvider, get_registry

# Defaults of the recommendation rules; settings.SWITCHBOARD_ANALYTICS overrides any of them
# and the API accepts per-request values.
DEFAULT_RULES = {
    # Minimum success rate (accepted / (accepted + failed)) over the period to be recommended.
    "RELIABILITY_BAR": "0.98",
    # Attempts a provider needs in the period before its success rate is trusted.
    "MIN_ATTEMPTS": 20,
    # Share of the channel's billable volume above which an unofficial provider is flagged.
    "UNOFFICIAL_SHARE": "0.25",
}

DEFINITIONS = {
    "units": gettext_lazy(
        "WhatsApp: outbound messages the provider accepted (sent, delivered or read). "
        "VoIP: billed minutes of completed outbound calls, each call rounded up to its provider's billing increment."
    ),
    "actual_cost": gettext_lazy(
        "Per billable row: the price the provider reported (cost_source = provider) when there is one, "
        "else the catalog price stored at send time, else the integration's current price model at its first-tier "
        "rate; plus each integration's monthly fee in every month it carried billable traffic."
    ),
    "alternative_cost": gettext_lazy(
        "What the channel's whole usage of the month (same messages by category, same call "
        "durations) would have cost on that option's price model: monthly fee + category prices + graduated tiers. "
        "A month without billable traffic costs nothing on any option."
    ),
    "cheapest": gettext_lazy(
        "The option with the lowest alternative cost."
    ),
    "reference": gettext_lazy(
        "The single configured integration whose price model would have cost the most for the whole "
        "period's usage; the same reference is used for every month, so monthly savings add up to the total."
    ),
    "savings": gettext_lazy(
        "Reference cost minus actual cost. savings_percent = savings / reference cost × 100."
    ),
    "rounding": gettext_lazy(
        "Amounts are kept exact and rounded once, for display, half up to the cent; a total is the rounded "
        "sum of exact monthly values, so it may differ by a cent from the sum of the rounded months."
    ),
}


def rules(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    merged = {**DEFAULT_RULES, **getattr(settings, "SWITCHBOARD_ANALYTICS", {}), **(overrides or {})}
    return {
        "RELIABILITY_BAR": to_decimal(merged["RELIABILITY_BAR"]),
        "MIN_ATTEMPTS": int(merged["MIN_ATTEMPTS"]),
        "UNOFFICIAL_SHARE": to_decimal(merged["UNOFFICIAL_SHARE"]),
    }


# ----- price models and options


def provider_class_or_none(provider_name: str):
    try:
        return get_registry().get(provider_name)
    except UnknownProvider:
        return None


def price_model_for(provider_name: str, *, config: Mapping[str, Any] | None = None) -> PriceModel:
    """The provider's price model (its class's, else the catalog's) with ``config`` overrides."""
    provider_class = provider_class_or_none(provider_name)
    base = provider_class.pricing if provider_class is not None else CATALOG.get(provider_name, PriceModel())
    # Overrides that cannot price (stored before validation existed) fall back to the catalog
    # price: one integration's bad overrides never fail a cost page or the analytics.
    return priced_with_overrides(base, config)[0]


def integration_price_model(integration: OrganizationIntegration) -> PriceModel:
    return price_model_for(integration.provider_name, config=integration.config)


def price_label(provider_name: str, *, integration: OrganizationIntegration | None = None) -> str:
    """The one price label of a provider, or of one integration with its price overrides
    ("$0.005/message", "Free", …): the dashboard, the wizard, the detail, add and cost pages all
    show this, so an integration's price reads the same everywhere."""
    config = integration.config if integration is not None else None
    return price_model_label(price_model_for(provider_name, config=config))


@dataclass
class Option:
    """Somewhere the channel's traffic could go: a configured integration or a catalog entry."""

    key: str
    label: str
    provider_name: str
    source: str  # "configured" or "catalog"
    model: PriceModel
    official: bool | None
    integration: OrganizationIntegration | None = None

    @property
    def is_primary(self) -> bool:
        return bool(self.integration and self.integration.is_primary)

    @property
    def healthy(self) -> bool:
        """Can take traffic now: active, breaker closed, and not reported degraded or down."""
        i = self.integration
        return bool(
            i
            and i.status == OrganizationIntegration.Status.ACTIVE
            and not i.breaker_is_open()
            and i.health_status in (OrganizationIntegration.Health.HEALTHY, OrganizationIntegration.Health.UNKNOWN)
        )


def channel_options(*, organization: Organization, channel: str) -> list[Option]:
    """The organization's integrations of ``channel`` (with their overrides), then the listed
    catalog entries of providers it has not configured."""
    options: list[Option] = []
    configured_providers = set()
    for integration in integration_list(organization=organization, channel=channel):
        provider_class = provider_class_or_none(integration.provider_name)
        configured_providers.add(integration.provider_name)
        options.append(
            Option(
                key=str(integration.pk),
                label=integration.display_name,
                provider_name=integration.provider_name,
                source="configured",
                model=integration_price_model(integration),
                official=None if provider_class is None else bool(provider_class.official),
                integration=integration,
            )
        )
    for name, model in catalog_for_channel(channel).items():
        if name in configured_providers:
            continue
        provider_class = provider_class_or_none(name)
        options.append(
            Option(
                key=f"catalog:{name}",
                label=_("%(name)s (catalog)") % {"name": provider_class.display_name if provider_class else name},
                provider_name=name,
                source="catalog",
                model=provider_class.pricing if provider_class else model,
                official=None if provider_class is None else bool(provider_class.official),
            )
        )
    return options


