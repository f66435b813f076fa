"""Which organizations a user may see or administer."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from integrations.errors import NotFound
from integrations.models import Membership, Organization


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
        raise NotFound(_("No organization with slug '%(slug)s'.") % {"slug": slug}) from None


def administered_organization(*, user, slug: str) -> Organization:
    """One organization the user administers, by slug; ``NotFound`` for any other (its
    existence is not confirmed)."""
    organization = administered_organizations(user).filter(slug=slug).first()
    if organization is None:
        raise NotFound(_("No such organization among the ones you administer."))
    return organization
