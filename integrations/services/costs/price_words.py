"""A price model's label in the reader's language: ``PriceModel.label()`` (providers/ is
Django-free, so it speaks English only) said again with the catalog's words and Babel's number
and currency formats. In English the two are the same text (tests/test_i18n_screens.py checks
every provider's)."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_currency, format_decimal
from django.utils.translation import get_language, to_locale
from django.utils.translation import gettext as _

from providers.pricing import UNIT_MINUTE, PriceModel, display_money, display_unit_price


def _locale() -> str:
    return to_locale(get_language() or "en")


def _unit_price(amount: Decimal, *, symbol: bool = True) -> str:
    # Every significant decimal of a unit price, at least two ("$0.0289", "US$ 0,0289").
    exact = Decimal(display_unit_price(amount))
    if symbol:
        return format_currency(exact, "USD", locale=_locale(), decimal_quantization=False)
    return format_decimal(exact, format="#,##0.00", locale=_locale(), decimal_quantization=False)


def price_model_label(model: PriceModel) -> str:
    """"$0.005/message", "$0.0289–0.0618/message", "$0.013/min (per-minute billing)", "Free",
    with "+ $10.00/month" when there is a fee — in the reader's language."""
    minutes = model.unit == UNIT_MINUTE
    base_prices = [t.unit_price for t in model.tiers] if model.tiers else [model.unit_price]
    prices = sorted({*base_prices, *model.category_prices.values()})
    positive = [p for p in prices if p > 0]
    if not positive:
        text = _("Free")
    else:
        if len(prices) == 1 or (len(positive) == 1 and not model.category_prices):
            price = _unit_price(positive[0])
        else:
            price = f"{_unit_price(prices[0])}–{_unit_price(prices[-1], symbol=False)}"
        text = (_("%(price)s/min") if minutes else _("%(price)s/message")) % {"price": price}
    if minutes and positive:
        increment = model.billing_increment_seconds
        billing = (
            _("per-minute billing")
            if increment == 60
            else _("%(seconds)s-second billing") % {"seconds": increment}
        )
        text = f"{text} ({billing})"
    if model.monthly_fee > 0:
        fee = format_currency(display_money(model.monthly_fee), "USD", locale=_locale())
        text = _("%(price)s + %(fee)s/month") % {"price": text, "fee": fee}
    return text
