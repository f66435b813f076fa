"""Numbers and money written the way the reader's language writes them (Babel's CLDR data):
``{{ amount|money:currency }}`` gives ``$1,234.50`` in English and ``US$ 1.234,50`` in
Brazilian Portuguese; ``{{ count|number }}`` gives ``3,240`` / ``3.240``. Dates need nothing: the
admin's templates format them with Django's per-language formats once LocaleMiddleware has
picked the language."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from babel.numbers import UnknownCurrencyError, format_currency, format_decimal
from django import template
from django.utils.translation import get_language, to_locale

register = template.Library()


def _locale() -> str:
    return to_locale(get_language() or "en")


def _decimal(value) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
        return None


@register.filter
def money(value, currency: str = "USD") -> str:
    """``value`` in ``currency`` (ISO 4217), two decimals; empty for no value."""
    amount = _decimal(value)
    if amount is None:
        return ""
    try:
        return format_currency(amount, (currency or "USD").upper(), locale=_locale())
    except UnknownCurrencyError:
        return f"{format_decimal(amount, format='#,##0.00', locale=_locale())} {currency}"


@register.filter
def number(value, decimals: int = 0) -> str:
    """``value`` with the language's grouping and decimal marks, ``decimals`` places."""
    amount = _decimal(value)
    if amount is None:
        return ""
    pattern = "#,##0" + ("." + "0" * int(decimals) if int(decimals) > 0 else "")
    return format_decimal(amount, format=pattern, locale=_locale())
