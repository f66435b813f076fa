"""What a screen may show to whom. Another organization's objects answer 404, as if they did
not exist; ``PROVIDER_MANAGEMENT_ENABLED`` off hides every provider screen."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import admin
from django.http import Http404, HttpRequest

from audit import context
from integrations.errors import NotFound
from integrations.models import Channel, Organization, OrganizationIntegration, ProviderMigration
from integrations.selectors.integrations import administered_integration
from integrations.selectors.migrations import migration_get
from integrations.selectors.organizations import administered_organization
from integrations.services.migration.state import management_enabled


def management_required(view: Callable) -> Callable:
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not management_enabled():
            raise Http404("Provider management is switched off.")
        return view(request, *args, **kwargs)

    return wrapper


def organization_or_404(request: HttpRequest, slug: str) -> Organization:
    try:
        organization = administered_organization(user=request.user, slug=slug)
    except NotFound:
        raise Http404("No such organization among the ones you administer.") from None
    context.set_scope(organization_id=organization.pk)
    return organization


def integration_or_404(request: HttpRequest, integration_id: Any) -> OrganizationIntegration:
    try:
        integration = administered_integration(user=request.user, integration_id=integration_id)
    except NotFound:
        raise Http404("No such integration among your organizations.") from None
    context.set_scope(organization_id=integration.organization_id, integration_id=integration.pk)
    return integration


def migration_or_404(organization: Organization, channel: str, migration_id: Any) -> ProviderMigration:
    try:
        return migration_get(organization=organization, migration_id=migration_id, channel=channel)
    except NotFound:
        raise Http404("No such migration.") from None


def channel_or_404(channel: str) -> str:
    if channel not in Channel.values:
        raise Http404("Unknown channel.")
    return channel


def admin_context(request: HttpRequest, title: str) -> dict:
    """The admin site's own context (sidebar, user links), so these pages look like the admin."""
    return {**admin.site.each_context(request), "title": title}
