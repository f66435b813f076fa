"""Cost analytics as JSON-ready dicts and CSV rows: the API answers with them, the admin cost
page renders them and offers the CSV. Amounts are rounded once, here (``display_money``)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal, InvalidOperation
from typing import Any

from integrations.services.costs.estimate import EstimateLine
from integrations.services.costs.figures import Comparison, Window
from integrations.services.costs.options import DEFINITIONS
from integrations.services.costs.price_words import price_model_label
from providers.pricing import UNIT_MINUTE, display_money


def _money_out(amount: Decimal | None) -> str | None:
    return None if amount is None else str(display_money(amount))


def _rate_out(rate: Decimal | None) -> str | None:
    return None if rate is None else str(rate.quantize(Decimal("0.0001")))


def _units_out(comparison_unit: str, amount: Decimal) -> str:
    return str(display_money(amount)) if comparison_unit == UNIT_MINUTE else str(int(amount))


def _window_json(comparison: Comparison, window: Window) -> dict[str, Any]:
    cheapest = comparison.option(window.cheapest_key)
    reference = comparison.option(window.reference_key)
    return {
        "month": window.label,
        "units": _units_out(comparison.unit, window.units_total),
        "actual_cost": _money_out(window.actual_total),
        "usage": [
            {
                "key": u.key,
                "label": u.label,
                "provider_name": u.provider_name,
                "units": _units_out(comparison.unit, u.units),
                "actual_cost": _money_out(u.actual_cost),
                "attempts": u.attempts,
                "failed": u.failed,
                "success_rate": _rate_out(u.success_rate),
                "average_latency_ms": None if u.average_latency_ms is None else str(display_money(u.average_latency_ms)),
            }
            for u in window.usage.values()
        ],
        "alternatives": [
            {"key": o.key, "label": o.label, "source": o.source, "cost": _money_out(window.option_costs[o.key])}
            for o in comparison.options
        ],
        "cheapest": None if cheapest is None else {"key": cheapest.key, "label": cheapest.label,
                                                   "cost": _money_out(window.option_costs[cheapest.key])},
        "reference": None if reference is None else {"key": reference.key, "label": reference.label,
                                                     "cost": _money_out(window.reference_cost)},
        "savings": _money_out(window.savings),
        "savings_percent": _money_out(window.savings_percent),
    }


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    return value


def comparison_as_json(comparison: Comparison) -> dict[str, Any]:
    return {
        "channel": comparison.channel,
        "unit": comparison.unit,
        "currency": comparison.currency,
        "months": [m.strftime("%Y-%m") for m in comparison.month_starts],
        "options": [
            {
                "key": o.key,
                "label": o.label,
                "provider_name": o.provider_name,
                "source": o.source,
                "official": o.official,
                "is_primary": o.is_primary,
                "price_label": price_model_label(o.model),
                "price_model": o.model.describe(),
            }
            for o in comparison.options
        ],
        "monthly": [_window_json(comparison, w) for w in comparison.months],
        "total": _window_json(comparison, comparison.total),
        "recommendations": [
            {"kind": r.kind, "severity": r.severity, "title": r.title, "reasoning": r.reasoning,
             "figures": {k: _json_value(v) for k, v in r.figures.items()}}
            for r in comparison.recommendations
        ],
        "rules": {k.lower(): _json_value(v) for k, v in comparison.rules.items()},
        "definitions": DEFINITIONS,
    }


def estimate_as_json(lines: list[EstimateLine], *, channel: str, monthly_volume: Decimal) -> dict[str, Any]:
    primary = next((line for line in lines if line.option.is_primary), None)
    primary_key = primary.option.key if primary else None

    def cheaper_at_every_volume(line: EstimateLine) -> str | None:
        """With no break-even the order never changes: the one cheaper at this volume is
        cheaper at every volume (None when they cost the same)."""
        if primary is None or line is primary or line.break_even_with_primary or line.cost == primary.cost:
            return None
        return line.option.key if line.cost < primary.cost else primary_key

    return {
        "primary": primary_key,
        "primary_label": primary.option.label if primary else None,
        "channel": channel,
        "monthly_volume": str(monthly_volume),
        "results": [
            {
                "key": line.option.key,
                "label": line.option.label,
                "provider_name": line.option.provider_name,
                "source": line.option.source,
                "official": line.option.official,
                "cost": _money_out(line.cost),
                "price_label": price_model_label(line.option.model),
                "break_even_with_cheapest": [
                    {"volume": str(p.volume.quantize(Decimal("0.01"))), "cost": _money_out(p.cost),
                     "cheaper_above": lines[0].option.key if p.cheaper_above == "a" else line.option.key}
                    for p in line.break_even_with_cheapest
                ],
                "is_primary": line.option.is_primary,
                "break_even_with_primary": [
                    {"volume": str(p.volume.quantize(Decimal("0.01"))), "cost": _money_out(p.cost),
                     "cheaper_above": primary_key if p.cheaper_above == "a" else line.option.key}
                    for p in line.break_even_with_primary
                ],
                "cheaper_than_primary_at_every_volume": cheaper_at_every_volume(line),
            }
            for line in lines
        ],
        "rounding": DEFINITIONS["rounding"],
    }


def comparison_csv_rows(comparisons: list[Comparison]) -> list[list[str]]:
    """The monthly table as spreadsheet rows: one row per month and channel, then a total row
    per channel. Costs are rounded to the cent; units as shown on the page."""
    option_labels: list[tuple[str, str]] = []
    for comparison in comparisons:
        for option in comparison.options:
            pair = (comparison.channel, option.label)
            if pair not in option_labels:
                option_labels.append(pair)
    header = ["month", "channel", "unit", "units", "actual_cost", "cheapest", "cheapest_cost",
              "reference", "reference_cost", "savings", "savings_percent"]
    header += [f"cost_on:{channel}:{label}" for channel, label in option_labels]
    rows = [header]
    for comparison in comparisons:
        for window in [*comparison.months, comparison.total]:
            cheapest = comparison.option(window.cheapest_key)
            reference = comparison.option(window.reference_key)
            costs_by_label = {o.label: window.option_costs[o.key] for o in comparison.options}
            row = [
                window.label,
                comparison.channel,
                comparison.unit,
                _units_out(comparison.unit, window.units_total),
                _money_out(window.actual_total),
                cheapest.label if cheapest else "",
                _money_out(window.option_costs[cheapest.key]) if cheapest else "",
                reference.label if reference else "",
                _money_out(window.reference_cost) or "",
                _money_out(window.savings) or "",
                _money_out(window.savings_percent) or "",
            ]
            row += [
                _money_out(costs_by_label[label]) if channel == comparison.channel and label in costs_by_label else ""
                for channel, label in option_labels
            ]
            rows.append(row)
    return rows


def comparison_csv(comparisons: list[Comparison]) -> str:
    """The monthly table as a CSV document, safe to open in a spreadsheet."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in comparison_csv_rows(comparisons):
        writer.writerow([spreadsheet_safe(cell) for cell in row])
    return buffer.getvalue()


def spreadsheet_safe(cell: str) -> str:
    """An admin-chosen label starting with = + - @ would run as a formula in a spreadsheet."""
    text = str(cell)
    if text[:1] in ("=", "+", "@") or (text[:1] == "-" and not _is_number(text)):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except InvalidOperation:
        return False
    return True
