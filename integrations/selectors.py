"""Reads that views, admin, API and commands share. Every one starts from an organization."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from integrations.models import Membership, Organization, OrganizationIntegration
from integrations.services.errors import NotFound
from providers.values import mask_secret


def administered_organizations(user) -> QuerySet[Organization]:
    """Organizations where the user is admin or owner (all of them for a superuser)."""
    if not getattr(user, "is_authenticated", False):
        return Organization.objects.none()
    if user.is_superuser:
        return Organization.objects.all()
    return Organization.objects.filter(
        memberships__user=user, memberships__role__in=Membership.ADMIN_ROLES
    ).distinct()


def member_organizations(user) -> QuerySet[Organization]:
    if not getattr(user, "is_authenticated", False):
        return Organization.objects.none()
    return Organization.objects.filter(memberships__user=user).distinct()


def organization_get(*, slug: str) -> Organization:
    try:
        return Organization.objects.get(slug=slug)
    except Organization.DoesNotExist:
        raise NotFound(f"No organization with slug '{slug}'.") from None


def integration_list(*, organization: Organization, channel: str | None = None) -> QuerySet[OrganizationIntegration]:
    queryset = OrganizationIntegration.objects.for_org(organization)
    if channel:
        queryset = queryset.filter(channel=channel)
    return queryset.order_by("channel").in_route_order()


def primary_integration(*, organization: Organization, channel: str) -> OrganizationIntegration | None:
    return OrganizationIntegration.objects.for_org(organization).filter(channel=channel, is_primary=True).first()


def integration_get(*, organization: Organization, ref: str, channel: str | None = None) -> OrganizationIntegration:
    """Find an integration of this organization by id or by display name."""
    queryset = integration_list(organization=organization, channel=channel)
    try:
        return queryset.get(pk=uuid.UUID(str(ref)))
    except (ValueError, OrganizationIntegration.DoesNotExist):
        pass
    matches = list(queryset.filter(display_name=ref)[:2])
    if len(matches) == 1:
        return matches[0]
    where = f"{channel} " if channel else ""
    if matches:
        raise NotFound(f"More than one {where}integration is named '{ref}'; use its id.")
    raise NotFound(f"{organization.name} has no {where}integration '{ref}'.")


def masked_credentials(integration: OrganizationIntegration) -> dict[str, str]:
    """Secret field name → masked hint (``••••8901``), for the fields that are set."""
    stored = integration.credentials or {}
    return {name: mask_secret(stored[name]) for name in integration.provider_class().secret_field_names() if stored.get(name)}
