"""Tenant scoping and the status badges every integration page shows."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from integrations.selectors.organizations import administered_organizations


def primary_badge() -> str:
    return format_html("<strong>★ {}</strong>", _("Primary"))


STATUS_BADGES = {
    # status → (colour, label); the label always goes with the colour.
    "active": ("#1a7f37", gettext_lazy("Active")),
    "pending": ("#9a6700", gettext_lazy("Configuring")),
    "inactive": ("#6e7781", gettext_lazy("Inactive")),
    "error": ("#cf222e", gettext_lazy("Error")),
    "healthy": ("#1a7f37", gettext_lazy("Healthy")),
    "degraded": ("#9a6700", gettext_lazy("Degraded")),
    "down": ("#cf222e", gettext_lazy("Down")),
    "unknown": ("#6e7781", gettext_lazy("Unknown")),
}


def badge(value: str) -> str:
    colour, label = STATUS_BADGES.get(value, ("#6e7781", value))
    return format_html(
        '<span style="display:inline-block;padding:1px 8px;border-radius:10px;'
        'background:{};color:#fff;font-size:11px">{}</span>',
        colour,
        label,
    )


class OrganizationScopedAdmin(admin.ModelAdmin):
    """Admin and owner members manage their own organizations; superusers manage all."""

    organization_lookup = "organization"

    def _administered(self, request):
        return administered_organizations(request.user)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.organization_lookup}__in": self._administered(request)})

    def _organization_of(self, obj):
        return getattr(obj, self.organization_lookup) if obj is not None else None

    def _allowed(self, request, obj=None) -> bool:
        user = request.user
        if not (user.is_active and user.is_staff):
            return False
        if user.is_superuser:
            return True
        administered = self._administered(request)
        if obj is None:
            return administered.exists()
        organization = self._organization_of(obj)
        return organization is not None and administered.filter(pk=organization.pk).exists()

    def has_module_permission(self, request):
        return self._allowed(request)

    def has_view_permission(self, request, obj=None):
        return self._allowed(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._allowed(request, obj)

    def has_add_permission(self, request):
        return self._allowed(request)

    def has_delete_permission(self, request, obj=None):
        return self._allowed(request, obj)
