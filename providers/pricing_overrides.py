"""Price overrides a tenant may store in ``config["pricing"]``, checked before they are kept.

Every value is checked for its shape and range (prices finite decimals from 0 to 1,000,000 of
at most 40 characters, increments in seconds, at most 20 tiers with rising caps), then the price
model is built with the overrides and asked for a price, a call's cost and a month's cost: an
override that passes can price every message and call later (delivery, costs, analytics).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from providers.pricing import PriceModel, parse_tiers, to_decimal

logger = logging.getLogger(__name__)

MAX_NUMBER_TEXT = 40
PRICE_KEYS = frozenset({
    "unit_price", "monthly_fee", "currency", "category_prices", "billing_increment_seconds",
    "minimum_billable_seconds", "tiers",
})
MAX_PRICE = Decimal("1000000")
MAX_TIERS = 20
MAX_TIER_CAP = 10**12
CATEGORY_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
CURRENCY = re.compile(r"[A-Za-z]{3}")


def parse_number(value: Any, *, integer: bool) -> float | int | None:
    """The number a config value stands for, or None (bools, huge texts and NaN are not numbers)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text or len(text) > MAX_NUMBER_TEXT:
            return None
        value = text
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if not math.isfinite(number):
        return None
    if integer:
        if isinstance(value, int):
            return value
        if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value):
            return int(value)
        return int(number) if number.is_integer() and abs(number) < 2**53 else None
    return number


def _price_problem(name: str, value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal) or len(str(value)) > MAX_NUMBER_TEXT:
        return f"{name} must be a decimal number."
    try:
        amount = to_decimal(value)
    except ValueError:
        return f"{name} must be a finite decimal number."
    if not Decimal(0) <= amount <= MAX_PRICE:
        return f"{name} must be between 0 and {MAX_PRICE}."
    return None


def price_overrides_problem(model: PriceModel, overrides: Any) -> str | None:
    """Why these price overrides cannot price anything, or None: the checks below, then the
    price model is built with them and asked for a price, a call's cost and a month's cost."""
    if overrides in (None, ""):
        return None
    if not isinstance(overrides, Mapping):
        return "Price overrides must be an object."
    unknown = sorted(str(key)[:40] for key in overrides if key not in PRICE_KEYS)
    if unknown:
        return f"Unknown price override(s): {', '.join(unknown[:5])}."
    problems = [_price_problem(name, overrides[name]) for name in ("unit_price", "monthly_fee") if overrides.get(name) not in (None, "")]
    currency = overrides.get("currency")
    if currency not in (None, "") and not (isinstance(currency, str) and CURRENCY.fullmatch(currency)):
        problems.append("currency must be a three-letter code such as USD.")
    for name, low, high in (("billing_increment_seconds", 1, 3600), ("minimum_billable_seconds", 0, 86400)):
        if overrides.get(name) not in (None, ""):
            number = parse_number(overrides[name], integer=True)
            if number is None or not low <= number <= high:
                problems.append(f"{name} must be a whole number from {low} to {high}.")
    categories = overrides.get("category_prices")
    if categories not in (None, ""):
        if not isinstance(categories, Mapping) or len(categories) > 20:
            problems.append("category_prices must be an object of at most 20 categories.")
        else:
            for category, price in categories.items():
                if not (isinstance(category, str) and CATEGORY_NAME.fullmatch(category)):
                    problems.append("category_prices: a category is lowercase letters, digits and _.")
                    break
                problems.append(_price_problem(f"category_prices.{category}", price))
    tiers = overrides.get("tiers")
    if tiers is not None:
        problems.append(_tiers_problem(tiers))
    problems = [problem for problem in problems if problem]
    if problems:
        return " ".join(problems[:5])
    try:
        priced = model.with_overrides({"pricing": dict(overrides)})
        priced.price_for(None)
        priced.call_cost(61)
        priced.monthly_cost(volume=1000)
        priced.describe()
    except (ArithmeticError, ValueError, TypeError, KeyError) as exc:
        return f"These price overrides cannot price a message or a call ({type(exc).__name__})."
    return None


def priced_with_overrides(model: PriceModel, config: Mapping[str, Any] | None) -> tuple[PriceModel, bool]:
    """(model with the config's price overrides, True), or (the model itself, False) when the
    overrides cannot price (stored before they were validated, or edited in the database): a
    screen or a report that shows prices never fails on one integration's overrides."""
    overrides = config.get("pricing") if isinstance(config, Mapping) else None
    if not overrides:
        return model, True
    try:
        if price_overrides_problem(model, overrides) is None:
            return model.with_overrides(config), True
    except Exception:  # the checks above are meant to refuse, never to raise; be sure of it
        logger.warning("Price overrides could not be checked", exc_info=True)
    return model, False


def _tiers_problem(tiers: Any) -> str | None:
    if not isinstance(tiers, list | tuple) or len(tiers) > MAX_TIERS:
        return f"tiers must be a list of at most {MAX_TIERS} tiers."
    for tier in tiers:
        if not isinstance(tier, Mapping) or set(tier) - {"up_to", "unit_price"} or "unit_price" not in tier:
            return 'Each tier is {"up_to": <units or null>, "unit_price": "<decimal>"}.'
        cap = tier.get("up_to")
        if cap not in (None, ""):
            number = parse_number(cap, integer=True)
            if number is None or not 0 < number <= MAX_TIER_CAP:
                return f"A tier's up_to must be a whole number from 1 to {MAX_TIER_CAP}, or null."
        problem = _price_problem("A tier's unit_price", tier.get("unit_price"))
        if problem:
            return problem
    try:
        parse_tiers(tiers)
    except (ValueError, TypeError, KeyError) as exc:
        return f"tiers: {str(exc)[:200]}"
    return None


__all__ = ["MAX_NUMBER_TEXT", "parse_number", "price_overrides_problem", "priced_with_overrides"]
