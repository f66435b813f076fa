"""The provider dashboard: every administered organization's channels, live status, usage and
cost this month, and its contacts' WhatsApp 24-hour windows (with a lookup for one contact)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from integrations.forms import WindowLookupForm
from integrations.models import Channel, Organization
from integrations.selectors.integrations import channel_integrations, integration_list
from integrations.selectors.migrations import open_migration
from integrations.selectors.organizations import administered_organizations
from integrations.selectors.service_windows import contact_window, window_overview
from integrations.selectors.usage import usage_this_month
from integrations.services.costs.comparison import month_summary
from integrations.views.access import admin_context, management_required
from integrations.views.presenters import card, status_json


@management_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    organizations = []
    for organization in administered_organizations(request.user):
        channels = [
            {
                "value": value,
                "label": label,
                "cards": [card(row) for row in channel_integrations(organization=organization, channel=value)],
                "open_migration": open_migration(organization=organization, channel=value),
                "migrate_url": reverse("provider_admin:migrate", args=[organization.slug, value]),
            }
            for value, label in Channel.choices
        ]
        organizations.append(
            {
                "organization": organization,
                "channels": channels,
                "usage": {
                    channel: usage_this_month(organization=organization, channel=channel) for channel in Channel.values
                },
                "cost_summary": month_summary(organization=organization),
                "history_url": reverse("provider_admin:history", args=[organization.slug]),
                "windows": service_windows(request, organization),
            }
        )
    context = admin_context(request, _("Providers"))
    context.update(
        {
            "organizations": organizations,
            "status_url": reverse("provider_admin:status"),
            "costs_url": reverse("provider_costs:costs"),
        }
    )
    return render(request, "admin/providers/dashboard.html", context)


def service_windows(request: HttpRequest, organization: Organization) -> dict:
    """The WhatsApp windows panel of one organization; the lookup form is answered only in the
    organization it was sent from (``window_org``)."""
    panel = window_overview(organization=organization, channel=Channel.WHATSAPP)
    asked = request.GET.get("window_org") == organization.slug and "contact" in request.GET
    form = WindowLookupForm(request.GET if asked else None, auto_id=f"id_{organization.slug}_%s")
    panel.update({"form": form, "asked": asked, "answer": None})
    if asked and form.is_valid():
        panel["contact"] = form.cleaned_data["contact"]
        panel["answer"] = contact_window(organization=organization, channel=Channel.WHATSAPP,
                                         contact=panel["contact"])
    return panel


@management_required
@require_GET
def dashboard_status(request: HttpRequest) -> JsonResponse:
    rows = []
    for organization in administered_organizations(request.user):
        rows.extend(status_json(row) for row in integration_list(organization=organization))
    return JsonResponse({"integrations": rows})
