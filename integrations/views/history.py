"""An organization's migration history."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from integrations.selectors.migrations import migration_history, migration_success_rate
from integrations.views.access import admin_context, management_required, organization_or_404


@management_required
@require_GET
def history(request: HttpRequest, organization_slug: str) -> HttpResponse:
    organization = organization_or_404(request, organization_slug)
    rows = []
    for migration in migration_history(organization=organization):
        duration = None
        if migration.started_at and migration.finished_at:
            duration = (migration.finished_at - migration.started_at).total_seconds()
        rows.append(
            {
                "migration": migration,
                "duration": duration,
                "url": reverse("provider_admin:migration", args=[organization.slug, migration.channel, migration.pk]),
            }
        )
    context = admin_context(request, _("Migration history — %(organization)s") % {"organization": organization.name})
    context.update(
        {"organization": organization, "rows": rows, "success": migration_success_rate(organization=organization)}
    )
    return render(request, "admin/providers/history.html", context)
