"""Organizations and who may administer them."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Count
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from integrations.admin.scoping import OrganizationScopedAdmin, badge, primary_badge
from integrations.models import Membership, Organization, OrganizationIntegration
from integrations.services.organizations import (
    organization_problems,
    organization_rotate_notification_secret,
    organization_save,
)


class IntegrationInline(admin.TabularInline):
    """Read-only overview: integrations are changed on their own page, through the services."""

    model = OrganizationIntegration
    fields = ("link", "channel", "provider_name", "primary_badge", "status_badge", "priority")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return True

    @admin.display(description=gettext_lazy("Integration"))
    def link(self, obj):
        url = reverse("admin:integrations_organizationintegration_change", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, obj.display_name)

    @admin.display(description=gettext_lazy("Primary"))
    def primary_badge(self, obj):
        return primary_badge() if obj.is_primary else "—"

    @admin.display(description=gettext_lazy("Status"))
    def status_badge(self, obj):
        return badge(obj.status)


class MembershipInline(admin.TabularInline):
    """Who may do what. Only superusers grant roles: an org admin could otherwise pick any user."""

    model = Membership
    extra = 0

    def _superuser(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request, obj=None):
        return self._superuser(request)

    def has_change_permission(self, request, obj=None):
        return self._superuser(request)

    def has_delete_permission(self, request, obj=None):
        return self._superuser(request)

    def has_view_permission(self, request, obj=None):
        return True


class OrganizationForm(forms.ModelForm):
    def clean(self):
        cleaned = super().clean()
        problems = organization_problems(slug=cleaned.get("slug") or "", notification_url=cleaned.get("notification_url") or "")
        for field, messages_ in problems.items():
            self.add_error(field, messages_)
        return cleaned


@admin.register(Organization)
class OrganizationAdmin(OrganizationScopedAdmin):
    form = OrganizationForm
    organization_lookup = "pk"
    list_display = ("name", "slug", "auto_failover", "integration_count", "created_at")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    fields = ("name", "slug", "auto_failover", "auto_failback", "notification_url")
    # Notification endpoints are https in practice; Django 6 makes this the default.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    inlines = (IntegrationInline, MembershipInline)

    def get_queryset(self, request):
        queryset = Organization.objects.annotate(integrations_total=Count("integrations"))
        if request.user.is_superuser:
            return queryset
        return queryset.filter(pk__in=self._administered(request))

    def _organization_of(self, obj):
        return obj

    def has_add_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    @admin.display(description=gettext_lazy("Integrations"), ordering="integrations_total")
    def integration_count(self, obj):
        return obj.integrations_total

    actions = ("rotate_notification_secret",)

    def save_model(self, request, obj, form, change):
        organization_save(organization=obj, actor=request.user, changed_fields=form.changed_data)

    @admin.action(description=gettext_lazy("Rotate the notification signing secret"))
    def rotate_notification_secret(self, request, queryset):
        selected = list(queryset[:2])
        if len(selected) != 1:
            self.message_user(request, _("Select exactly one organization."), messages.ERROR)
            return None
        organization = selected[0]
        if not self.has_change_permission(request, organization):
            raise PermissionDenied
        secret = organization_rotate_notification_secret(organization=organization, actor=request.user)
        # Rendered once, never stored in a message cookie or shown again.
        response = TemplateResponse(
            request,
            "admin/integrations/notification_secret.html",
            {**self.admin_site.each_context(request), "opts": self.model._meta, "organization": organization,
             "secret": secret, "title": _("New notification signing secret")},
        )
        response["Cache-Control"] = "no-store"
        return response


@admin.register(Membership)
class MembershipAdmin(OrganizationScopedAdmin):
    """Org admins see their members; only superusers grant or change roles."""

    list_display = ("user", "organization", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("user__username", "organization__name")

    def has_add_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser




