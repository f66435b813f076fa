"""Charts drawn on the server as inline SVG: no JavaScript and no chart library."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_decimal
from django.utils.html import escape
from django.utils.translation import get_language, to_locale
from django.utils.translation import gettext as _

from integrations.models import Channel
from integrations.services.costs.figures import Comparison
from providers.pricing import UNIT_MINUTE, display_money


def number(value, decimals: int) -> str:
    """An axis figure with the reader's grouping and decimal marks (as the templates' ``number``)."""
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(value, format=pattern, locale=to_locale(get_language() or "en"))


PALETTE = ("#417690", "#c2410c", "#15803d", "#7c3aed", "#b91c1c", "#0e7490", "#a16207")


def trend_svg(comparison: Comparison, *, width: int = 720, height: int = 180) -> str:
    """Two small line charts, volume and cost per integration by month, as one SVG string.

    Every label is escaped; each point carries a <title> so the figures read without hovering
    tools, and a table on the page repeats them for screen readers.
    """
    months = comparison.months
    series: dict[str, dict] = {}
    for index, window in enumerate(months):
        for key, usage in window.usage.items():
            entry = series.setdefault(key, {"label": usage.label, "units": [Decimal(0)] * len(months),
                                            "cost": [Decimal(0)] * len(months)})
            entry["units"][index] = usage.units
            entry["cost"][index] = usage.actual_cost
    chart_label = _("%(channel)s volume and cost per provider by month") % {"channel": Channel(comparison.channel).label}
    minutes = comparison.unit == UNIT_MINUTE
    unit = "min" if minutes else _("messages")
    left, right, top, bottom = 64, 36, 24, 28
    panel_height = height - top - bottom
    inner_width = width - left - right
    step = inner_width / max(len(months) - 1, 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="pc-chart" viewBox="0 0 {width} {2 * height + 40}" '
        f'width="100%" role="img" aria-label="{escape(chart_label)}">'
    ]
    for panel, (field, title, fmt) in enumerate(
        (("units", _("Volume (%(unit)s)") % {"unit": unit}, lambda v: number(v, 2 if minutes else 0)),
         ("cost", _("Cost (%(currency)s)") % {"currency": comparison.currency}, lambda v: number(display_money(v), 2)))
    ):
        y0 = panel * (height + 20)
        peak = max([max(s[field]) for s in series.values()] + [Decimal(0)])
        scale = peak if peak > 0 else Decimal(1)
        parts.append(f'<text x="{left}" y="{y0 + 14}" class="pc-chart-title">{escape(title)}</text>')
        for tick in (Decimal(0), scale / 2, scale):
            y = y0 + top + panel_height - float(tick / scale) * panel_height
            parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="pc-grid"/>')
            parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="pc-axis">{escape(fmt(tick))}</text>')
        for index, window in enumerate(months):
            x = left + index * step
            parts.append(f'<text x="{x:.1f}" y="{y0 + height - 8}" text-anchor="middle" class="pc-axis">{escape(window.label)}</text>')
        for position, (_key, entry) in enumerate(sorted(series.items(), key=lambda item: item[1]["label"])):
            colour = PALETTE[position % len(PALETTE)]
            points = []
            for index, value in enumerate(entry[field]):
                x = left + index * step
                y = y0 + top + panel_height - float(value / scale) * panel_height
                points.append((x, y, value))
            coordinates = " ".join(f"{x:.1f},{y:.1f}" for x, y, _value in points)
            parts.append(f'<polyline points="{coordinates}" fill="none" stroke="{colour}" stroke-width="2"/>')
            for (x, y, value), window in zip(points, months, strict=True):
                parts.append(
                    f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"><title>{escape(entry["label"])}, '
                    f'{escape(window.label)}: {escape(fmt(value))}</title></circle>'
                )
    legend_y = 2 * height + 30
    for position, (_key, entry) in enumerate(sorted(series.items(), key=lambda item: item[1]["label"])):
        x = left + position * 180
        colour = PALETTE[position % len(PALETTE)]
        parts.append(f'<rect x="{x}" y="{legend_y - 9}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{x + 14}" y="{legend_y}" class="pc-axis">{escape(entry["label"][:28])}</text>')
    if not series:
        empty = escape(_("No traffic in this period."))
        parts.append(f'<text x="{left}" y="{height}" class="pc-axis">{empty}</text>')
    parts.append("</svg>")
    return "".join(parts)
