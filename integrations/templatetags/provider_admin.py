"""Template helpers for the admin's provider screens."""

from django import template
from django.urls import reverse
from django.utils.translation import gettext as _

from integrations.selectors.organizations import administered_organizations
from integrations.services.migration.state import management_enabled

register = template.Library()


@register.simple_tag(takes_context=True)
def provider_admin_links(context) -> list[dict]:
    """The "Providers" entries of the admin index and sidebar: empty when the feature flag is
    off or the user administers no organization."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if request is None or not management_enabled() or not administered_organizations(user).exists():
        return []
    links = [{"name": _("Provider dashboard"), "url": reverse("provider_admin:dashboard")}]
    for organization in administered_organizations(user)[:10]:
        links.append(
            {
                "name": _("Migration history — %(organization)s") % {"organization": organization.name},
                "url": reverse("provider_admin:history", args=[organization.slug]),
            }
        )
    links.append({"name": _("Cost analytics"), "url": reverse("provider_costs:costs")})
    return links
