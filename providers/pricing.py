"""Price models: what a provider charges, in ``Decimal`` only.

Nothing is rounded here. Every intermediate value keeps full precision; figures are rounded
once, when they are displayed, by :func:`display_money` (the rule is in ``docs/COSTS.md``).

A month's cost under a price model is::

    monthly_fee
    + Σ over categories with their own price:  units_in_category × category_price
    + graduated(units priced at the base rate)             # tiers, or × unit_price

Calls are billed per call: each call's duration is rounded up to the model's billing
increment (after the minimum billable seconds), and the month's billed minutes are the sum
of those, divided by 60. The same calls therefore cost a different number of *billed* minutes
on a per-minute provider than on a 6-second provider.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

ZERO = Decimal("0")
ONE = Decimal("1")
CENT = Decimal("0.01")
SIXTY = Decimal("60")

UNIT_MESSAGE = "message"
UNIT_MINUTE = "minute"

# Meta's pricing categories; any other category string is priced at the base rate.
MESSAGE_CATEGORIES = ("marketing", "utility", "authentication", "service")


@dataclass(frozen=True)
class Tier:
    """Units up to and including ``up_to`` in a month cost ``unit_price`` each (None: no cap).

    Tiers are graduated: with tiers (1000, 0.05) and (None, 0.03), 1500 units cost
    1000 × 0.05 + 500 × 0.03. ``up_to`` counts from the first unit of the month, not from the
    previous tier's cap.
    """

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
    # The channel this model prices ("whatsapp", "voip"); lets the catalog offer alternatives
    # for a channel without asking the provider registry.
    channel: str = ""
    # False for models that are not a real offer (the sandbox): they are never suggested as an
    # alternative unless an organization has actually configured them.
    listed: bool = True

    # ----- per unit

    def price_for(self, category: str | None = None) -> Decimal:
        """The price of one unit of ``category``: its category price, else the base rate (the
        first tier's price when the model has tiers)."""
        category = category or self.default_category
        if category and category in self.category_prices:
            return self.category_prices[category]
        if self.tiers:
            return self.tiers[0].unit_price
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
        """One call on its own, at the base (first-tier) rate, without the monthly fee."""
        return Decimal(self.billable_seconds(duration_seconds)) / SIXTY * self.price_for(None)

    def billed_minutes(self, durations: Mapping[int, int] | Iterable[int]) -> Decimal:
        """Billed minutes of a set of calls: ``{duration_seconds: number_of_calls}`` or a list of
        durations. Each call is rounded up to the increment on its own."""
        items = durations.items() if isinstance(durations, Mapping) else ((d, 1) for d in durations)
        seconds = sum(self.billable_seconds(int(d)) * int(n) for d, n in items)
        return Decimal(seconds) / SIXTY

    # ----- a month

    def graduated_cost(self, quantity: Decimal | int) -> Decimal:
        """Cost of ``quantity`` units at the base rate, through the tiers when there are any."""
        quantity = to_decimal(quantity)
        if quantity <= 0:
            return ZERO
        if not self.tiers:
            return quantity * self.unit_price
        total, floor = ZERO, ZERO
        for tier in self.tiers:
            cap = None if tier.up_to is None else Decimal(tier.up_to)
            if cap is None or quantity <= cap:
                return total + (quantity - floor) * tier.unit_price
            total += (cap - floor) * tier.unit_price
            floor = cap
        # Past the last capped tier: the last tier's price carries on.
        return total + (quantity - floor) * self.tiers[-1].unit_price

    def split_by_price(self, category_volumes: Mapping[str | None, Decimal | int]) -> tuple[dict[str, Decimal], Decimal]:
        """Separate volumes into (category-priced units by category, base-rate units)."""
        categorised: dict[str, Decimal] = {}
        base = ZERO
        for category, volume in category_volumes.items():
            volume = to_decimal(volume)
            key = category or self.default_category
            if key and key in self.category_prices:
                categorised[key] = categorised.get(key, ZERO) + volume
            else:
                base += volume
        return categorised, base

    def monthly_cost(
        self,
        *,
        volume: Decimal | int = 0,
        category_volumes: Mapping[str | None, Decimal | int] | None = None,
        call_durations: Mapping[int, int] | None = None,
        include_fee: bool = True,
    ) -> Decimal:
        """Total cost of one month's usage under this model.

        ``volume`` is units with no category (messages, or already-billed minutes);
        ``category_volumes`` maps a message category to its units; ``call_durations`` maps a
        call duration in seconds to the number of calls that lasted that long (billed minutes
        are computed with this model's increments). Zero usage costs exactly the monthly fee.
        """
        volumes: dict[str | None, Decimal] = {}
        if volume:
            volumes[None] = to_decimal(volume)
        for category, units in (category_volumes or {}).items():
            volumes[category] = volumes.get(category, ZERO) + to_decimal(units)
        if call_durations:
            volumes[None] = volumes.get(None, ZERO) + self.billed_minutes(call_durations)
        categorised, base = self.split_by_price(volumes)
        cost = sum((units * self.category_prices[c] for c, units in categorised.items()), ZERO)
        cost += self.graduated_cost(base)
        if include_fee:
            cost += self.monthly_fee
        return cost

    def cost_for_volume(
        self,
        volume: Decimal | int,
        *,
        mix: Mapping[str, Decimal | int | str] | None = None,
        billed_seconds_per_second: Decimal = ONE,
    ) -> Decimal:
        """A month's cost for ``volume`` units split by ``mix`` (category → share; shares are
        normalised, so percentages and fractions both work). For minutes,
        ``billed_seconds_per_second`` scales talk time into billed time (see
        :func:`billing_factor`)."""
        volume = to_decimal(volume) * billed_seconds_per_second
        shares = normalise_mix(mix)
        if not shares:
            return self.monthly_cost(volume=volume)
        return self.monthly_cost(category_volumes={c: volume * s for c, s in shares.items()})

    # ----- overrides

    def with_overrides(self, config: Mapping[str, Any] | None) -> PriceModel:
        """Apply an integration's ``pricing`` overrides: unit_price, monthly_fee, currency,
        category_prices, billing_increment_seconds, minimum_billable_seconds, tiers
        (``[{"up_to": 1000, "unit_price": "0.05"}, {"up_to": null, "unit_price": "0.03"}]``)."""
        overrides = (config or {}).get("pricing") or {}
        if not overrides:
            return self
        changes: dict[str, Any] = {}
        for name in ("unit_price", "monthly_fee"):
            if overrides.get(name) not in (None, ""):
                changes[name] = to_decimal(overrides[name])
        if overrides.get("currency"):
            changes["currency"] = str(overrides["currency"]).upper()
        for name in ("billing_increment_seconds", "minimum_billable_seconds"):
            if overrides.get(name) not in (None, ""):
                changes[name] = int(overrides[name])
        if overrides.get("category_prices"):
            merged = dict(self.category_prices)
            merged.update({k: to_decimal(v) for k, v in overrides["category_prices"].items()})
            changes["category_prices"] = merged
        if "tiers" in overrides and overrides["tiers"] is not None:
            changes["tiers"] = parse_tiers(overrides["tiers"])
        return replace(self, **changes)

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly description (Decimals as strings, so nothing is lost)."""
        return {
            "unit": self.unit,
            "unit_price": str(self.unit_price),
            "currency": self.currency,
            "category_prices": {k: str(v) for k, v in self.category_prices.items()},
            "default_category": self.default_category,
            "billing_increment_seconds": self.billing_increment_seconds,
            "minimum_billable_seconds": self.minimum_billable_seconds,
            "monthly_fee": str(self.monthly_fee),
            "tiers": [
                {"up_to": tier.up_to, "unit_price": str(tier.unit_price)} for tier in self.tiers
            ],
            "notes": self.notes,
        }

    def label(self) -> str:
        """A short price for a provider card: "$0.005/message", "$0.0289–0.0618/message",
        "$0.013/min (per-minute billing)", "Free", with "+ $10.00/month" when there is a fee.
        Every screen that shows a price shows this one."""
        unit = "min" if self.unit == UNIT_MINUTE else "message"
        base_prices = [t.unit_price for t in self.tiers] if self.tiers else [self.unit_price]
        prices = sorted({*base_prices, *self.category_prices.values()})
        positive = [p for p in prices if p > 0]
        if not positive:
            text = "Free"
        elif len(prices) == 1 or (len(positive) == 1 and not self.category_prices):
            text = f"${display_unit_price(positive[0])}/{unit}"
        else:
            text = f"${display_unit_price(prices[0])}–{display_unit_price(prices[-1])}/{unit}"
        if self.unit == UNIT_MINUTE and positive:
            increment = self.billing_increment_seconds
            text += " (per-minute billing)" if increment == 60 else f" ({increment}-second billing)"
        if self.monthly_fee > 0:
            text += f" + ${display_money(self.monthly_fee)}/month"
        return text

    def breakpoints(self, *, base_share: Decimal = ONE, factor: Decimal = ONE) -> list[Decimal]:
        """Volumes at which this model's marginal price changes (tier caps), for a volume of
        which ``base_share`` is billed at the base rate."""
        if base_share <= 0 or factor <= 0:
            return []
        return [Decimal(t.up_to) / (base_share * factor) for t in self.tiers if t.up_to is not None]


# ----- helpers


def to_decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        # str() first: Decimal(0.1) would carry binary noise into money.
        value = str(value)
    try:
        result = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"{value!r} is not a number") from exc
    if not result.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    return result


def parse_tiers(raw: Iterable[Mapping[str, Any]]) -> tuple[Tier, ...]:
    """Tiers from JSON; caps must rise and only the last may be open (``up_to`` null)."""
    tiers = tuple(
        Tier(up_to=None if t.get("up_to") in (None, "") else int(t["up_to"]), unit_price=to_decimal(t["unit_price"]))
        for t in raw
    )
    caps = [t.up_to for t in tiers]
    if any(cap is None for cap in caps[:-1]):
        raise ValueError("Only the last tier may have no cap.")
    numeric = [cap for cap in caps if cap is not None]
    if numeric != sorted(set(numeric)) or any(cap <= 0 for cap in numeric):
        raise ValueError("Tier caps must be positive and rising.")
    if any(t.unit_price < 0 for t in tiers):
        raise ValueError("Tier prices cannot be negative.")
    return tiers


def normalise_mix(mix: Mapping[str, Decimal | int | str] | None) -> dict[str, Decimal]:
    """Category shares that add up to exactly 1 (empty when no mix or all shares are zero)."""
    if not mix:
        return {}
    shares = {str(k): to_decimal(v) for k, v in mix.items()}
    if any(v < 0 for v in shares.values()):
        raise ValueError("Category shares cannot be negative.")
    total = sum(shares.values(), ZERO)
    if total <= 0:
        return {}
    return {k: v / total for k, v in shares.items() if v > 0}


def billing_factor(model: PriceModel, average_call_seconds: int | None) -> Decimal:
    """Billed seconds per second of talk time for calls of ``average_call_seconds``: a 45 s
    call is billed 60 s per minute (factor 4/3) and 48 s in 6 s increments (16/15)."""
    if model.unit != UNIT_MINUTE or not average_call_seconds or average_call_seconds <= 0:
        return ONE
    return Decimal(model.billable_seconds(average_call_seconds)) / Decimal(average_call_seconds)


@dataclass(frozen=True)
class BreakEven:
    """At ``volume`` units a month the two models cost the same; above it, ``cheaper_above``
    ("a" or "b") is the cheaper one, below it the other."""

    volume: Decimal
    cheaper_above: str
    cost: Decimal


def break_even(
    a: PriceModel,
    b: PriceModel,
    *,
    mix: Mapping[str, Decimal | int | str] | None = None,
    average_call_seconds: int | None = None,
) -> list[BreakEven]:
    """Every monthly volume at which the cheaper of ``a`` and ``b`` changes, lowest first.

    Both costs are piecewise linear in volume (fees, category prices, graduated tiers), so
    the difference is linear between the tiers' caps; each linear piece is solved exactly. A
    volume where the two only touch, or run equal over a stretch, is not a change of order and
    is not reported.
    """
    factor_a = billing_factor(a, average_call_seconds)
    factor_b = billing_factor(b, average_call_seconds)
    shares = normalise_mix(mix)

    def cost(model: PriceModel, factor: Decimal, volume: Decimal) -> Decimal:
        return model.cost_for_volume(volume, mix=shares or None, billed_seconds_per_second=factor)

    def diff(volume: Decimal) -> Decimal:
        return cost(a, factor_a, volume) - cost(b, factor_b, volume)

    def base_share(model: PriceModel) -> Decimal:
        if not shares:
            return ZERO if (model.default_category in model.category_prices) else ONE
        _, base = model.split_by_price(shares)
        return base

    points = {ZERO}
    points.update(a.breakpoints(base_share=base_share(a), factor=factor_a))
    points.update(b.breakpoints(base_share=base_share(b), factor=factor_b))
    ordered = sorted(points)
    roots: list[Decimal] = []
    for index, low in enumerate(ordered):
        high = ordered[index + 1] if index + 1 < len(ordered) else None
        span = (high - low) if high is not None else ONE
        slope = (diff(low + span) - diff(low)) / span
        if slope == 0:
            continue
        root = low - diff(low) / slope
        if root < low or (high is not None and root > high):
            continue
        roots.append(root)
    found: list[BreakEven] = []
    for root in sorted(set(roots)):
        if root <= 0:
            continue  # equal at zero volume (same fees): nothing below zero to change from
        later = [p for p in ordered if p > root]
        earlier = [p for p in ordered if p < root]
        after = diff(root + (min(ONE, (later[0] - root) / 2) if later else ONE))
        before = diff(root - min(ONE, (root - earlier[-1]) / 2))
        # Touching or running level is not a change of which one is cheaper.
        if after == 0 or before == 0 or (before > 0) == (after > 0):
            continue
        found.append(BreakEven(volume=root, cheaper_above="a" if after < 0 else "b", cost=cost(a, factor_a, root)))
    return found


def display_money(amount: Decimal) -> Decimal:
    """The display rule: round half up to the cent, once, at the very end."""
    return to_decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


def display_unit_price(amount: Decimal) -> str:
    """A unit price as the provider quotes it: full precision, at least two decimals."""
    amount = to_decimal(amount)
    text = format(amount.normalize(), "f")
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"
