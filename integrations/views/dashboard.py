"""The provider dashboard: every administered organization's channels, live status, usage and
cost this month."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from integrations.models import Channel
from integrations.selectors.integrations import channel_integrations, integration_list
from integrations.selectors.migrations import open_migration
from integrations.selectors.organizations import administered_organizations
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


@management_required
@require_GET
def dashboard_status(request: HttpRequest) -> JsonResponse:
    rows = []
    for organization in administered_organizations(request.user):
        rows.extend(status_json(row) for row in integration_list(organization=organization))
    return JsonResponse({"integrations": rows})
