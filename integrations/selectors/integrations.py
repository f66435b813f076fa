"""Reads of an organization's integrations."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from integrations.errors import NotFound
from integrations.models import Call, Message, Organization, OrganizationIntegration
from integrations.selectors.organizations import administered_organizations
from providers.config import secret_looking
from providers.values import SECRET_MASK, mask_secret


def integration_list(*, organization: Organization, channel: str | None = None) -> QuerySet[OrganizationIntegration]:
    queryset = OrganizationIntegration.objects.for_org(organization)
    if channel:
        queryset = queryset.filter(channel=channel)
    return queryset.order_by("channel").in_route_order()


def channel_integrations(*, organization: Organization, channel: str) -> list[OrganizationIntegration]:
    """Every integration of the channel, in route order (primary first)."""
    return list(OrganizationIntegration.objects.for_org(organization).for_channel(channel).in_route_order())


def primary_integration(*, organization: Organization, channel: str) -> OrganizationIntegration | None:
    return OrganizationIntegration.objects.for_org(organization).filter(channel=channel, is_primary=True).first()


def provider_integration(
    *, organization: Organization, channel: str, provider_name: str
) -> OrganizationIntegration | None:
    """The organization's integration of this provider that comes first in the route."""
    return (
        OrganizationIntegration.objects.for_org(organization)
        .for_channel(channel)
        .filter(provider_name=provider_name)
        .in_route_order()
        .first()
    )


def route_ids(organization_id: Any, channel: str) -> tuple[uuid.UUID, ...]:
    """The route as the database has it: primary first, then active fallbacks by priority. A
    route only ever holds active rows; the primary is active by a database check."""
    return tuple(
        OrganizationIntegration.objects.filter(
            organization_id=organization_id, channel=channel, status=OrganizationIntegration.Status.ACTIVE
        )
        .in_route_order()
        .values_list("id", flat=True)
    )


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
        raise NotFound(_("More than one %(where)sintegration is named '%(ref)s'; use its id.") % {"where": where, "ref": ref})
    raise NotFound(_("%(organization)s has no %(where)sintegration '%(ref)s'.")
                   % {"organization": organization.name, "where": where, "ref": ref})


def integration_for_org(*, organization: Organization, integration_id: Any) -> OrganizationIntegration:
    """This organization's integration with that id; ``NotFound`` for anything else, including
    another organization's integration (its existence is not confirmed)."""
    try:
        return OrganizationIntegration.objects.for_org(organization).get(pk=integration_id)
    except (OrganizationIntegration.DoesNotExist, ValueError, ValidationError):
        raise NotFound(_("No such integration.")) from None


def administered_integration(*, user: Any, integration_id: Any) -> OrganizationIntegration:
    """The integration, if ``user`` administers its organization (superuser, owner or admin).

    An integration the user may not administer is reported as missing, not forbidden: its
    existence is none of their business.
    """
    try:
        integration = (
            OrganizationIntegration.objects.filter(organization__in=administered_organizations(user), pk=integration_id)
            .select_related("organization")
            .first()
        )
    except (ValueError, ValidationError):
        integration = None
    if integration is None:
        raise NotFound(_("No such integration."))
    return integration


def unique_display_name(*, organization: Organization, channel: str, wanted: str) -> str:
    """``wanted``, or ``wanted (2)``, ``(3)``… when the channel already uses it."""
    taken = set(OrganizationIntegration.objects.for_org(organization).for_channel(channel).values_list("display_name", flat=True))
    name, n = wanted, 2
    while name in taken:
        name, n = f"{wanted} ({n})", n + 1
    return name


def masked_credentials(integration: OrganizationIntegration) -> dict[str, str]:
    """Secret field name → masked hint (``••••8901``), for the fields that are set."""
    stored = integration.credentials or {}
    return {name: mask_secret(stored[name]) for name in integration.provider_class().secret_field_names() if stored.get(name)}


def shown_config(integration: OrganizationIntegration) -> dict[str, Any]:
    """The integration's settings as they may be shown: a value under a key that looks like a
    credential (``api_key``, ``token``…) is masked, at any depth. The validator refuses such keys
    now; a config stored before it did must not hand a secret back in clear."""

    def masked(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: SECRET_MASK if isinstance(key, str) and secret_looking(key) else masked(item)
                    for key, item in value.items()}
        if isinstance(value, list):
            return [masked(item) for item in value]
        return value

    return masked(dict(integration.config or {}))


def never_used_integrations(*, organization: Organization, ids: list[Any]) -> list[OrganizationIntegration]:
    """Of ``ids``, the integrations that are not primary and never carried a message or a call:
    the ones an abandoned migration may remove without losing any history."""
    used = set(Message.objects.filter(integration_id__in=ids).values_list("integration_id", flat=True).distinct())
    used |= set(Call.objects.filter(integration_id__in=ids).values_list("integration_id", flat=True).distinct())
    return [
        row
        for row in OrganizationIntegration.objects.for_org(organization).filter(pk__in=ids, is_primary=False)
        if row.pk not in used
    ]
