"""The cost analytics page (``/admin/providers/costs/``) and its CSV export.

Thin: the figures come from ``integrations.services.costs``, their rendering from
``integrations.reports.costs``; this module picks the organization, parses the calculator form,
and draws the trend chart (``charts``). Only superusers and admins or owners of an organization
see it; an organization the user does not administer is a 404.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import admin
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from integrations.models import Channel, Organization
from integrations.reports.costs import (
    comparison_as_json,
    comparison_csv,
    estimate_as_json,
)
from integrations.selectors.organizations import administered_organizations
from integrations.services.costs.comparison import cost_comparison, month_summary
from integrations.services.costs.estimate import cost_estimate
from integrations.services.costs.figures import Comparison, Window
from integrations.services.costs.options import DEFINITIONS
from integrations.views.charts import trend_svg
from providers.pricing import MESSAGE_CATEGORIES, UNIT_MINUTE, display_money

MONTH_CHOICES = (3, 6, 12)
# WhatsApp's pricing categories, as Meta names them in each language.
CATEGORY_WORDS = {
    "marketing": gettext_lazy("Marketing"),
    "utility": gettext_lazy("Utility"),
    "authentication": gettext_lazy("Authentication"),
    "service": gettext_lazy("Service"),
}


class EstimateForm(forms.Form):
    calc_channel = forms.ChoiceField(label=gettext_lazy("Channel"), choices=Channel.choices)
    calc_volume = forms.DecimalField(label=gettext_lazy("Monthly volume (messages or minutes)"), min_value=0,
                                     max_digits=14, decimal_places=2)
    calc_call_seconds = forms.IntegerField(label=gettext_lazy("Average call length (s, VoIP)"), min_value=1,
                                           required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for category in MESSAGE_CATEGORIES:
            self.fields[f"mix_{category}"] = forms.DecimalField(
                label=f"{CATEGORY_WORDS.get(category, category.title())} %", min_value=0, max_digits=7, decimal_places=2, required=False
            )

    def mix(self) -> dict[str, Decimal]:
        return {c: self.cleaned_data[f"mix_{c}"] for c in MESSAGE_CATEGORIES if self.cleaned_data.get(f"mix_{c}")}


def _organization(request: HttpRequest) -> tuple[Organization, list[Organization]]:
    organizations = list(administered_organizations(request.user))
    if not organizations:
        raise Http404(_("You do not administer any organization."))
    slug = request.GET.get("org")
    if not slug:
        return organizations[0], organizations
    chosen = next((o for o in organizations if o.slug == slug), None)
    if chosen is None:
        raise Http404(_("No such organization among the ones you administer."))
    return chosen, organizations


def _months(request: HttpRequest) -> int:
    try:
        months = int(request.GET.get("months", 6))
    except ValueError:
        return 6
    return min(max(months, 1), 24)


def _latest_with_traffic(comparison: Comparison) -> Window | None:
    return next((w for w in reversed(comparison.months) if w.volumes), None)


def _channel_context(comparison: Comparison) -> dict:
    latest = _latest_with_traffic(comparison)
    cheapest = comparison.option(comparison.total.cheapest_key)
    as_json = comparison_as_json(comparison)
    return {
        "comparison": comparison,
        "label": Channel(comparison.channel).label,
        "json": as_json,
        "units_decimals": 2 if comparison.unit == UNIT_MINUTE else 0,
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
    comparisons = [cost_comparison(organization=organization, channel=c, months=months) for c in channels]
    if request.GET.get("format") == "csv":
        response = HttpResponse(comparison_csv(comparisons), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="costs-{organization.slug}-{months}m.csv"'
        return response

    form = EstimateForm(request.GET if "calc_volume" in request.GET else None)
    estimate = None
    if form.is_bound and form.is_valid():
        try:
            lines = cost_estimate(
                organization=organization,
                channel=form.cleaned_data["calc_channel"],
                monthly_volume=form.cleaned_data["calc_volume"],
                mix=form.mix() or None,
                average_call_seconds=form.cleaned_data.get("calc_call_seconds"),
            )
            estimate = estimate_as_json(
                lines, channel=form.cleaned_data["calc_channel"], monthly_volume=form.cleaned_data["calc_volume"]
            )
            estimate["unit_label"] = _("minutes of talk") if form.cleaned_data["calc_channel"] == Channel.VOIP else _("messages")
        except (ValueError, InvalidOperation) as exc:
            form.add_error(None, str(exc))
    summary = month_summary(organization=organization)
    context = {
        **admin.site.each_context(request),
        "title": _("Cost analytics & optimization"),
        "organization": organization,
        "organizations": organizations,
        "months": months,
        "month_choices": MONTH_CHOICES,
        "channel_filter": request.GET.get("channel", ""),
        "channels": [_channel_context(c) for c in comparisons],
        "summary": summary,
        "form": form,
        "estimate": estimate,
        "definitions": DEFINITIONS,
    }
    return render(request, "admin/providers/costs.html", context)
