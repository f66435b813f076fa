"""The catalog: each provider's default price model, from its public price list.

Every figure can be overridden per integration (``config["pricing"]``); entries marked
unverified in PROVIDER_CONTRACTS.md are exactly the ones an organization should check against
its invoice.
"""

from __future__ import annotations

from decimal import Decimal

from providers.pricing import UNIT_MESSAGE, UNIT_MINUTE, ZERO, PriceModel

CATALOG: dict[str, PriceModel] = {
    "meta_cloud": PriceModel(
        unit=UNIT_MESSAGE,
        unit_price=ZERO,  # service (non-template) messages are free
        category_prices={
            "marketing": Decimal("0.0618"),
            "utility": Decimal("0.0289"),
            "authentication": Decimal("0.0289"),
            "service": ZERO,
        },
        default_category="service",
        notes="Per delivered template message by category; sample rates for Argentina (USD).",
        channel="whatsapp",
    ),
    "twilio_whatsapp": PriceModel(
        unit=UNIT_MESSAGE,
        unit_price=Decimal("0.005"),
        # Twilio's own fee on every message, plus Meta's template fee passed through.
        category_prices={
            "marketing": Decimal("0.0668"),
            "utility": Decimal("0.0339"),
            "authentication": Decimal("0.0339"),
            "service": Decimal("0.005"),
        },
        notes="Twilio fee USD 0.005 per message plus Meta's template fee passed through.",
        channel="whatsapp",
    ),
    "whatsapp_web": PriceModel(
        unit=UNIT_MESSAGE,
        unit_price=ZERO,
        notes="No per-message fee; the risk is the number being banned.",
        channel="whatsapp",
    ),
    "twilio_voice": PriceModel(
        unit=UNIT_MINUTE,
        unit_price=Decimal("0.013"),
        billing_increment_seconds=60,
        notes="US outbound, per started minute (example figure, may be stale).",
        channel="voip",
    ),
    "telnyx": PriceModel(
        unit=UNIT_MINUTE,
        unit_price=Decimal("0.01"),
        billing_increment_seconds=6,
        notes="Flat-rate outbound, 6-second increments (unverified for Call Control).",
        channel="voip",
    ),
    "sandbox_whatsapp": PriceModel(
        unit=UNIT_MESSAGE, unit_price=Decimal("0.005"), channel="whatsapp", listed=False,
        notes="Sandbox: a nominal price so analytics have something to show.",
    ),
    "sandbox_voip": PriceModel(
        unit=UNIT_MINUTE, unit_price=Decimal("0.01"), billing_increment_seconds=6, channel="voip",
        listed=False, notes="Sandbox: a nominal per-minute price.",
    ),
}


def catalog_for_channel(channel: str, *, listed_only: bool = True) -> dict[str, PriceModel]:
    """Catalog entries that price ``channel``, by provider name."""
    return {
        name: model
        for name, model in CATALOG.items()
        if model.channel == channel and (model.listed or not listed_only)
    }
