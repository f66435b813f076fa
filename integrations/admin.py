"""Django admin for organizations and their integrations.

Every write goes through ``integrations.services``: the admin never sets ``is_primary`` or saves
an integration itself. A staff user who is not a superuser sees and changes only organizations
where they are admin or owner.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from integrations.models import Membership, Organization, OrganizationIntegration
from integrations.selectors import administered_organizations, masked_credentials
from integrations.services.errors import ServiceError
from integrations.services.health import integration_test_connection
from integrations.services.integrations import (
    integration_create,
    integration_delete,
    integration_update,
)
from integrations.services.organizations import (
    organization_rotate_notification_secret,
    organization_save,
)
from integrations.services.switching import switch_primary
from providers.base import Provider
from providers.config import ConfigField
from providers.registry import UnknownProvider, get_registry

PRIMARY_BADGE = mark_safe("<strong>★ Primary</strong>")  # constant markup, nothing interpolated

STATUS_BADGES = {
    # status → (colour, label); the label always goes with the colour.
    "active": ("#1a7f37", "Active"),
    "pending": ("#9a6700", "Configuring"),
    "inactive": ("#6e7781", "Inactive"),
    "error": ("#cf222e", "Error"),
    "healthy": ("#1a7f37", "Healthy"),
    "degraded": ("#9a6700", "Degraded"),
    "down": ("#cf222e", "Down"),
    "unknown": ("#6e7781", "Unknown"),
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


# --------------------------------------------------------------------------- organizations


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

    @admin.display(description="Integration")
    def link(self, obj):
        url = reverse("admin:integrations_organizationintegration_change", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, obj.display_name)

    @admin.display(description="Primary")
    def primary_badge(self, obj):
        return PRIMARY_BADGE if obj.is_primary else "—"

    @admin.display(description="Status")
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


@admin.register(Organization)
class OrganizationAdmin(OrganizationScopedAdmin):
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

    @admin.display(description="Integrations", ordering="integrations_total")
    def integration_count(self, obj):
        return obj.integrations_total

    actions = ("rotate_notification_secret",)

    def save_model(self, request, obj, form, change):
        organization_save(organization=obj, actor=request.user, changed_fields=form.changed_data)

    @admin.action(description="Rotate the notification signing secret")
    def rotate_notification_secret(self, request, queryset):
        selected = list(queryset[:2])
        if len(selected) != 1:
            self.message_user(request, "Select exactly one organization.", messages.ERROR)
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
             "secret": secret, "title": "New notification signing secret"},
        )
        response["Cache-Control"] = "no-store"
        return response


# --------------------------------------------------------------------------- integrations


class IntegrationForm(forms.Form):
    """Built per provider from its ``config_fields``. Secret inputs are never pre-filled."""

    organization = forms.ModelChoiceField(queryset=Organization.objects.none())
    display_name = forms.CharField(max_length=120)
    priority = forms.IntegerField(required=False, help_text="Fallback order: higher goes first.")
    status = forms.ChoiceField(choices=OrganizationIntegration.Status.choices)

    def __init__(self, *args, provider_class: type[Provider], organizations, instance=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.provider_class = provider_class
        self.instance = instance
        self.fields["organization"].queryset = organizations
        hints = masked_credentials(instance) if instance is not None else {}
        for config_field in provider_class.config_fields:
            self.fields[self.field_name(config_field)] = self._form_field(config_field, hints)
        if instance is not None:
            self.fields["organization"].disabled = True
            self.initial.update(
                organization=instance.organization_id,
                display_name=instance.display_name,
                priority=instance.priority,
                status=instance.status,
            )
            for config_field in provider_class.config_fields:
                if not config_field.secret and config_field.name in instance.config:
                    self.initial[self.field_name(config_field)] = instance.config[config_field.name]
        else:
            self.initial.setdefault("status", OrganizationIntegration.Status.PENDING)

    @staticmethod
    def field_name(config_field: ConfigField) -> str:
        return ("secret__" if config_field.secret else "config__") + config_field.name

    def _form_field(self, config_field: ConfigField, hints: dict[str, str]) -> forms.Field:
        help_text = config_field.help_text
        if config_field.secret:
            hint = hints.get(config_field.name)
            if hint:
                help_text = f"Stored: {hint}. Leave blank to keep it. " + help_text
            required = config_field.required and not hint
            return forms.CharField(
                label=config_field.label,
                required=required,
                help_text=help_text,
                widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
            )
        if config_field.kind == "choice":
            return forms.ChoiceField(
                label=config_field.label,
                required=config_field.required,
                help_text=help_text,
                choices=[("", "—")] + [(c, c) for c in config_field.choices],
                initial=config_field.default,
            )
        if config_field.kind == "bool":
            return forms.BooleanField(label=config_field.label, required=False, help_text=help_text)
        return forms.CharField(
            label=config_field.label,
            required=config_field.required,
            help_text=help_text,
            initial=config_field.default,
        )

    def split(self) -> tuple[dict, dict]:
        config = dict(self.instance.config) if self.instance is not None else {}
        credentials = {}
        for config_field in self.provider_class.config_fields:
            value = self.cleaned_data.get(self.field_name(config_field))
            if config_field.secret:
                if value:
                    credentials[config_field.name] = value
            elif value in (None, ""):
                config.pop(config_field.name, None)
            else:
                config[config_field.name] = value
        return config, credentials


@admin.register(OrganizationIntegration)
class OrganizationIntegrationAdmin(OrganizationScopedAdmin):
    list_display = (
        "display_name",
        "organization",
        "channel",
        "provider_name",
        "primary_badge",
        "status_badge",
        "health_badge",
        "priority",
    )
    list_filter = ("channel", "status", "is_primary", "health_status", "provider_name")
    search_fields = ("display_name", "provider_name", "organization__name", "organization__slug")
    list_select_related = ("organization",)
    ordering = ("organization__name", "channel", "-is_primary", "-priority")
    actions = ("make_primary", "test_connection")
    change_form_template = "admin/integrations/integration_form.html"

    # ----- list columns

    @admin.display(description="Primary", ordering="is_primary")
    def primary_badge(self, obj):
        return PRIMARY_BADGE if obj.is_primary else "—"

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj):
        return badge(obj.status)

    @admin.display(description="Health", ordering="health_status")
    def health_badge(self, obj):
        return badge(obj.health_status)

    # ----- actions (thin: they call services)

    @admin.action(description="Make primary")
    def make_primary(self, request, queryset):
        selected = list(queryset[:2])
        if len(selected) != 1:
            self.message_user(request, "Select exactly one integration to make primary.", messages.ERROR)
            return
        integration = selected[0]
        if not self.has_change_permission(request, integration):
            raise PermissionDenied
        try:
            result = switch_primary(
                organization=integration.organization,
                channel=integration.channel,
                target=integration,
                actor=request.user,
                reason="Admin action: make primary",
            )
        except ServiceError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        if result.switched:
            previous = result.previous.display_name if result.previous else "none"
            self.message_user(request, f"{integration.display_name} is now primary (was {previous}).", messages.SUCCESS)
        else:
            self.message_user(request, f"{integration.display_name} was already primary.", messages.INFO)

    @admin.action(description="Test connection")
    def test_connection(self, request, queryset):
        for integration in queryset:
            if not self.has_change_permission(request, integration):
                raise PermissionDenied
            health = integration_test_connection(integration=integration, actor=request.user)
            level = messages.SUCCESS if health.ok else messages.WARNING
            self.message_user(
                request,
                f"{integration.display_name}: {health.status.value} ({health.latency_ms} ms) {health.detail}",
                level,
            )

    # ----- add and change go through the services

    def _provider_class(self, request, obj=None):
        if obj is not None:
            return obj.provider_class()
        name = request.POST.get("provider_name") or request.GET.get("provider_name")
        if not name:
            return None
        try:
            return get_registry().get(name)
        except UnknownProvider:
            return None

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        provider_class = self._provider_class(request)
        if provider_class is None:
            return TemplateResponse(
                request,
                "admin/integrations/choose_provider.html",
                {
                    **self.admin_site.each_context(request),
                    "opts": self.model._meta,
                    "title": "Choose a provider",
                    "providers": get_registry().all(),
                },
            )
        return self._form_view(request, provider_class=provider_class, obj=None)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.model._meta, object_id)
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        return self._form_view(request, provider_class=obj.provider_class(), obj=obj)

    def _form_view(self, request, *, provider_class, obj):
        can_change = obj is None or self.has_change_permission(request, obj)
        organizations = Organization.objects.all() if request.user.is_superuser else self._administered(request)
        form = IntegrationForm(
            request.POST if request.method == "POST" else None,
            provider_class=provider_class,
            organizations=organizations,
            instance=obj,
        )
        if request.method == "POST" and can_change and form.is_valid():
            config, credentials = form.split()
            try:
                if obj is None:
                    saved = integration_create(
                        organization=form.cleaned_data["organization"],
                        provider_name=provider_class.name,
                        display_name=form.cleaned_data["display_name"],
                        config=config,
                        credentials=credentials,
                        priority=form.cleaned_data.get("priority"),
                        status=form.cleaned_data["status"],
                        actor=request.user,
                    )
                else:
                    saved = integration_update(
                        integration=obj,
                        display_name=form.cleaned_data["display_name"],
                        config=config,
                        credentials=credentials,
                        priority=form.cleaned_data.get("priority"),
                        status=form.cleaned_data["status"],
                        actor=request.user,
                    )
            except ValidationError as exc:
                self._attach_errors(form, exc, provider_class)
            except ServiceError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(request, f"Saved {saved.display_name}.", messages.SUCCESS)
                if "_continue" in request.POST:
                    return HttpResponseRedirect(
                        reverse("admin:integrations_organizationintegration_change", args=[saved.pk])
                    )
                return HttpResponseRedirect(reverse("admin:integrations_organizationintegration_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"{'Change' if obj else 'Add'} {provider_class.display_name} integration",
            "form": form,
            "original": obj,
            "provider_class": provider_class,
            "can_change": can_change,
            "masked": masked_credentials(obj) if obj is not None else {},
            "webhook_url": obj.webhook_url if obj is not None else "",
            "has_delete_permission": obj is not None and self.has_delete_permission(request, obj),
        }
        return TemplateResponse(request, self.change_form_template, context)

    @staticmethod
    def _attach_errors(form, exc: ValidationError, provider_class) -> None:
        field_names = {f.name: IntegrationForm.field_name(f) for f in provider_class.config_fields}
        if hasattr(exc, "error_dict"):
            for name, errors in exc.message_dict.items():
                target = field_names.get(name, name if name in form.fields else None)
                for message in errors:
                    form.add_error(target, message)
        else:
            for message in exc.messages:
                form.add_error(None, message)

    def delete_model(self, request, obj):
        integration_delete(integration=obj, actor=request.user)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except ServiceError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(
                reverse("admin:integrations_organizationintegration_change", args=[object_id])
            )

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            integration_delete(integration=obj, actor=request.user)

    def get_actions(self, request):
        actions = super().get_actions(request)
        # Bulk delete would bypass the "switch before deleting the primary" rule's messages.
        actions.pop("delete_selected", None)
        return actions


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


