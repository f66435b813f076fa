"""Tenancy and roles for the API.

The organization of a request comes from the ``X-Org-Id`` header (its UUID or slug; a UUID-shaped
value names an id only, and slugs cannot be UUID-shaped). A user who
belongs to exactly one organization may leave it out. Whatever the request body says, this is
the only source of the organization: nothing in a payload can point a request at another tenant.

Safe methods are open to every member (viewer and up); anything else needs one of the view's
``write_roles`` (admin and owner by default).
"""

from __future__ import annotations

import uuid

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS, BasePermission

from audit import context
from integrations.models import Membership, Organization
from integrations.models.organizations import uuid_shaped

ORG_HEADER = "X-Org-Id"
ADMIN_ROLES = frozenset(Membership.ADMIN_ROLES)


class OrganizationRequired(exceptions.APIException):
    status_code = 400
    default_code = "organization_required"
    default_detail = gettext_lazy(
        "You belong to several organizations; send the X-Org-Id header (organization id or slug) "
        "to say which one this request is for."
    )


class NotAMember(exceptions.PermissionDenied):
    default_code = "not_a_member"


def _matches(organization: Organization, ref: str) -> bool:
    """A UUID-shaped reference names an id and nothing else (slugs cannot be UUID-shaped, and
    one stored before that rule cannot capture another organization's id); any other
    reference names a slug."""
    as_uuid = _as_uuid(ref)
    if as_uuid is not None:
        return organization.pk == as_uuid
    return organization.slug == ref


def _as_uuid(ref: str) -> uuid.UUID | None:
    return uuid_shaped(ref)


def resolve_organization(request) -> tuple[Organization, str]:
    """The request's organization and the user's role in it, or an API error.

    An organization that does not exist and one the user does not belong to get the same 403,
    so the header cannot be used to probe which organizations exist.
    """
    user = request.user
    ref = (request.headers.get(ORG_HEADER) or "").strip()
    memberships = list(Membership.objects.filter(user=user).select_related("organization"))
    if not ref:
        if len(memberships) == 1:
            return memberships[0].organization, memberships[0].role
        if not memberships and not user.is_superuser:
            raise NotAMember(_("You are not a member of any organization."))
        raise OrganizationRequired()
    membership = next((m for m in memberships if _matches(m.organization, ref)), None)
    if membership is not None:
        return membership.organization, membership.role
    if user.is_superuser:
        as_uuid = _as_uuid(ref)
        organization = Organization.objects.filter(**({"pk": as_uuid} if as_uuid else {"slug": ref})).first()
        if organization is not None:
            return organization, Membership.Role.OWNER
    raise NotAMember(_("You are not a member of organization '%(ref)s'.") % {"ref": ref[:80]})


class IsOrganizationMember(BasePermission):
    """Resolves ``request.organization`` / ``request.organization_role`` and checks the role.

    Views may set ``write_roles`` (a set of ``Membership.Role`` values) to change who may write.
    """

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        organization, role = resolve_organization(request)
        request.organization = organization
        context.set_scope(organization_id=organization.pk)
        request.organization_role = role
        if request.method in SAFE_METHODS:
            return True
        allowed = getattr(view, "write_roles", ADMIN_ROLES)
        if role in allowed:
            return True
        self.message = _("Your role in %(organization)s is %(role)s; this needs admin or owner.") % {
            "organization": organization.name, "role": role}
        self.code = "role_required"
        return False
