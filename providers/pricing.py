"""Price models: what a provider charges, in ``Decimal`` only.

Nothing is rounded here. Figures are rounded once, when they are displayed (see
``docs/COSTS.md`` once analytics exist); every intermediate value keeps full precision.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any

ZERO = Decimal("0")

UNIT_MESSAGE = "message"
UNIT_MINUTE = "minute"


@dataclass(frozen=True)
class Tier:
    """Units up to and including ``up_to`` in a month cost ``unit_price`` each (None: no cap)."""

    up_to: int | None
    unit_price: Decimal


@dataclass(frozen=True)
class PriceModel:
    unit: str = UNIT_MESSAGE
    unit_price: Decimal = ZERO
    currency: str = "USD"
    # Per-category prices for messages (Meta: marketing / utility / authentication / service).
    category_prices: Mapping[str, Decimal] = field(default_factory=dict)
    default_category: str | None = None
    # Calls are billed in increments: 60 = per started minute, 6 = six-second increments.
    billing_increment_seconds: int = 60
    minimum_billable_seconds: int = 0
    monthly_fee: Decimal = ZERO
    tiers: tuple[Tier, ...] = ()
    notes: str = ""

    # ----- per unit

    def price_for(self, category: str | None = None) -> Decimal:
        category = category or self.default_category
        if category and category in self.category_prices:
            return self.category_prices[category]
        return self.unit_price

    def message_cost(self, *, category: str | None = None) -> Decimal:
        return self.price_for(category)

    def billable_seconds(self, duration_seconds: int) -> int:
        if duration_seconds <= 0:
            return 0
        seconds = max(duration_seconds, self.minimum_billable_seconds)
        increment = max(self.billing_increment_seconds, 1)
        return math.ceil(seconds / increment) * increment

    def call_cost(self, duration_seconds: int) -> Decimal:
        return Decimal(self.billable_seconds(duration_seconds)) / Decimal(60) * self.unit_price

    # ----- overrides

    def with_overrides(self, config: Mapping[str, Any] | None) -> PriceModel:
        """Apply an integration's ``pricing`` overrides: unit_price, monthly_fee, currency,
        category_prices, billing_increment_seconds."""
        overrides = (config or {}).get("pricing") or {}
        if not overrides:
            return self
        changes: dict[str, Any] = {}
        for name in ("unit_price", "monthly_fee"):
            if overrides.get(name) not in (None, ""):
                changes[name] = to_decimal(overrides[name])
        if overrides.get("currency"):
            changes["currency"] = str(overrides["currency"]).upper()
        if overrides.get("billing_increment_seconds"):
            changes["billing_increment_seconds"] = int(overrides["billing_increment_seconds"])
        if overrides.get("category_prices"):
            merged = dict(self.category_prices)
            merged.update({k: to_decimal(v) for k, v in overrides["category_prices"].items()})
            changes["category_prices"] = merged
        return replace(self, **changes)

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly description (Decimals as strings, so nothing is lost)."""
        return {
            "unit": self.unit,
            "unit_price": str(self.unit_price),
            "currency": self.currency,
            "category_prices": {k: str(v) for k, v in self.category_prices.items()},
            "billing_increment_seconds": self.billing_increment_seconds,
            "monthly_fee": str(self.monthly_fee),
            "tiers": [
                {"up_to": tier.up_to, "unit_price": str(tier.unit_price)} for tier in self.tiers
            ],
            "notes": self.notes,
        }


def to_decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        # str() first: Decimal(0.1) would carry binary noise into money.
        value = str(value)
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"{value!r} is not a number") from exc


# Catalog defaults, from the providers' public price lists (PROVIDER_CONTRACTS.md). Every
# figure can be overridden per integration (config["pricing"]); entries marked unverified in
# the contracts are exactly the ones an organization should check against its invoice.
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
    ),
    "twilio_whatsapp": PriceModel(
        unit=UNIT_MESSAGE,
        unit_price=Decimal("0.005"),
        notes="Twilio fee per message; Meta's template fee is passed through on top.",
    ),
    "whatsapp_web": PriceModel(
        unit=UNIT_MESSAGE,
        unit_price=ZERO,
        notes="No per-message fee; the risk is the number being banned.",
    ),
    "twilio_voice": PriceModel(
        unit=UNIT_MINUTE,
        unit_price=Decimal("0.013"),
        billing_increment_seconds=60,
        notes="US outbound, per started minute (example figure, may be stale).",
    ),
    "telnyx": PriceModel(
        unit=UNIT_MINUTE,
        unit_price=Decimal("0.01"),
        billing_increment_seconds=6,
        notes="Flat-rate outbound, 6-second increments (unverified for Call Control).",
    ),
    "sandbox_whatsapp": PriceModel(unit=UNIT_MESSAGE, unit_price=Decimal("0.005"),
                                   notes="Sandbox: a nominal price so analytics have something to show."),
    "sandbox_voip": PriceModel(unit=UNIT_MINUTE, unit_price=Decimal("0.01"), billing_increment_seconds=6,
                               notes="Sandbox: a nominal per-minute price."),
}
