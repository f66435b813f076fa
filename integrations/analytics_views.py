"""The cost analytics page in the admin (``/admin/providers/costs/``) and its CSV export.

Thin: the figures come from ``integrations.services.analytics``; this module picks the
organization, parses the calculator form, and draws the trend chart as inline SVG on the
server (no JavaScript, no chart library). Only superusers and admins or owners of an
organization see it; an organization the user does not administer is a 404.
"""

from __future__ import annotations

import csv
from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import admin
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from integrations.models import Channel, Organization
from integrations.selectors import administered_organizations
from integrations.services import analytics
from providers.pricing import MESSAGE_CATEGORIES, UNIT_MINUTE, display_money

app_name = "provider_costs"

MONTH_CHOICES = (3, 6, 12)
PALETTE = ("#417690", "#c2410c", "#15803d", "#7c3aed", "#b91c1c", "#0e7490", "#a16207")


class EstimateForm(forms.Form):
    calc_channel = forms.ChoiceField(label="Channel", choices=Channel.choices)
    calc_volume = forms.DecimalField(label="Monthly volume (messages or minutes)", min_value=0,
                                     max_digits=14, decimal_places=2)
    calc_call_seconds = forms.IntegerField(label="Average call length (s, VoIP)", min_value=1, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for category in MESSAGE_CATEGORIES:
            self.fields[f"mix_{category}"] = forms.DecimalField(
                label=f"{category.title()} %", min_value=0, max_digits=7, decimal_places=2, required=False
            )

    def mix(self) -> dict[str, Decimal]:
        return {c: self.cleaned_data[f"mix_{c}"] for c in MESSAGE_CATEGORIES if self.cleaned_data.get(f"mix_{c}")}


def _organization(request: HttpRequest) -> tuple[Organization, list[Organization]]:
    organizations = list(administered_organizations(request.user))
    if not organizations:
        raise Http404("You do not administer any organization.")
    slug = request.GET.get("org")
    if not slug:
        return organizations[0], organizations
    chosen = next((o for o in organizations if o.slug == slug), None)
    if chosen is None:
        raise Http404("No such organization among the ones you administer.")
    return chosen, organizations


def _months(request: HttpRequest) -> int:
    try:
        months = int(request.GET.get("months", 6))
    except ValueError:
        return 6
    return min(max(months, 1), 24)


def trend_svg(comparison: analytics.Comparison, *, width: int = 720, height: int = 180) -> str:
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
    unit = "min" if comparison.unit == UNIT_MINUTE else "messages"
    left, right, top, bottom = 64, 36, 24, 28
    panel_height = height - top - bottom
    inner_width = width - left - right
    step = inner_width / max(len(months) - 1, 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="pc-chart" viewBox="0 0 {width} {2 * height + 40}" '
        f'width="100%" role="img" aria-label="{escape(comparison.channel)} volume and cost per provider by month">'
    ]
    for panel, (field, title, fmt) in enumerate(
        (("units", f"Volume ({unit})", lambda v: f"{v:,.0f}" if unit == "messages" else f"{display_money(v):,}"),
         ("cost", f"Cost ({comparison.currency})", lambda v: f"{display_money(v):,}"))
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
        for number, (_, entry) in enumerate(sorted(series.items(), key=lambda item: item[1]["label"])):
            colour = PALETTE[number % len(PALETTE)]
            points = []
            for index, value in enumerate(entry[field]):
                x = left + index * step
                y = y0 + top + panel_height - float(value / scale) * panel_height
                points.append((x, y, value))
            coordinates = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in points)
            parts.append(f'<polyline points="{coordinates}" fill="none" stroke="{colour}" stroke-width="2"/>')
            for (x, y, value), window in zip(points, months, strict=True):
                parts.append(
                    f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"><title>{escape(entry["label"])}, '
                    f'{escape(window.label)}: {escape(fmt(value))}</title></circle>'
                )
    legend_y = 2 * height + 30
    for number, (_, entry) in enumerate(sorted(series.items(), key=lambda item: item[1]["label"])):
        x = left + number * 180
        colour = PALETTE[number % len(PALETTE)]
        parts.append(f'<rect x="{x}" y="{legend_y - 9}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{x + 14}" y="{legend_y}" class="pc-axis">{escape(entry["label"][:28])}</text>')
    if not series:
        parts.append(f'<text x="{left}" y="{height}" class="pc-axis">No traffic in this period.</text>')
    parts.append("</svg>")
    return "".join(parts)


def _latest_with_traffic(comparison: analytics.Comparison) -> analytics.Window | None:
    return next((w for w in reversed(comparison.months) if w.volumes), None)


def _channel_context(comparison: analytics.Comparison) -> dict:
    latest = _latest_with_traffic(comparison)
    cheapest = comparison.option(comparison.total.cheapest_key)
    as_json = analytics.comparison_as_json(comparison)
    return {
        "comparison": comparison,
        "label": Channel(comparison.channel).label,
        "json": as_json,
        "latest": None if latest is None else {
            "window": latest,
            "actual": display_money(latest.actual_total),
            "units": as_json["monthly"][comparison.months.index(latest)]["units"],
            "alternatives": [
                {"option": o, "cost": display_money(latest.option_costs[o.key])} for o in comparison.options
            ],
        },
        "cheapest": cheapest,
        "svg": mark_safe(trend_svg(comparison)),  # noqa: S308 (built above; every label escaped)
    }


@require_GET
def cost_page(request: HttpRequest) -> HttpResponse:
    organization, organizations = _organization(request)
    months = _months(request)
    channels = [request.GET["channel"]] if request.GET.get("channel") in Channel.values else Channel.values
    comparisons = [analytics.cost_comparison(organization=organization, channel=c, months=months) for c in channels]
    if request.GET.get("format") == "csv":
        return _csv(organization, months, comparisons)

    form = EstimateForm(request.GET if "calc_volume" in request.GET else None)
    estimate = None
    if form.is_bound and form.is_valid():
        try:
            lines = analytics.cost_estimate(
                organization=organization,
                channel=form.cleaned_data["calc_channel"],
                monthly_volume=form.cleaned_data["calc_volume"],
                mix=form.mix() or None,
                average_call_seconds=form.cleaned_data.get("calc_call_seconds"),
            )
            estimate = analytics.estimate_as_json(
                lines, channel=form.cleaned_data["calc_channel"], monthly_volume=form.cleaned_data["calc_volume"]
            )
        except (ValueError, InvalidOperation) as exc:
            form.add_error(None, str(exc))
    summary = analytics.month_summary(organization=organization)
    context = {
        **admin.site.each_context(request),
        "title": "Cost analytics & optimization",
        "organization": organization,
        "organizations": organizations,
        "months": months,
        "month_choices": MONTH_CHOICES,
        "channel_filter": request.GET.get("channel", ""),
        "channels": [_channel_context(c) for c in comparisons],
        "summary": summary,
        "form": form,
        "estimate": estimate,
        "definitions": analytics.DEFINITIONS,
    }
    return render(request, "admin/providers/costs.html", context)


def _csv(organization: Organization, months: int, comparisons: list[analytics.Comparison]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="costs-{organization.slug}-{months}m.csv"'
    writer = csv.writer(response)
    for row in analytics.comparison_csv_rows(comparisons):
        writer.writerow([_spreadsheet_safe(cell) for cell in row])
    return response


def _spreadsheet_safe(cell: str) -> str:
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


urlpatterns = [
    path("", admin.site.admin_view(cost_page), name="costs"),
]
