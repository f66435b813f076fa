"""Integrations: add and change go through the services, built from the provider's config fields."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from integrations.admin.scoping import OrganizationScopedAdmin, badge, primary_badge
from integrations.errors import ServiceError
from integrations.forms import ProviderSettingsForm
from integrations.models import Organization, OrganizationIntegration
from integrations.provider_words import provider_text
from integrations.selectors.integrations import masked_credentials
from integrations.services.costs.options import price_label
from integrations.services.health import integration_test_connection
from integrations.services.integrations import (
    integration_create,
    integration_delete,
    integration_update,
)
from integrations.services.switching import switch_primary
from providers.base import Provider
from providers.registry import UnknownProvider, get_registry


class IntegrationForm(ProviderSettingsForm):
    """The provider's settings plus where the integration lives and its fallback order."""

    prefix_config = "config__"
    prefix_secret = "secret__"

    organization = forms.ModelChoiceField(label=gettext_lazy("Organization"), queryset=Organization.objects.none())
    priority = forms.IntegerField(label=gettext_lazy("Priority"), required=False, min_value=-1_000_000,
                                  max_value=1_000_000, help_text=gettext_lazy("Fallback order: higher goes first."))
    status = forms.ChoiceField(label=gettext_lazy("Status"), choices=OrganizationIntegration.Status.choices)

    field_order = ("organization", "display_name", "priority", "status")

    def __init__(self, *args, provider_class: type[Provider], organizations, instance=None, **kwargs):
        super().__init__(*args, provider_class=provider_class, instance=instance, **kwargs)
        self.fields["organization"].queryset = organizations
        if instance is not None:
            self.fields["organization"].disabled = True
            self.initial.update(
                organization=instance.organization_id, priority=instance.priority, status=instance.status
            )
        else:
            self.initial.setdefault("status", OrganizationIntegration.Status.PENDING)
        self.order_fields(self.field_order)


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

    @admin.display(description=gettext_lazy("Primary"), ordering="is_primary")
    def primary_badge(self, obj):
        return primary_badge() if obj.is_primary else "—"

    @admin.display(description=gettext_lazy("Status"), ordering="status")
    def status_badge(self, obj):
        return badge(obj.status)

    @admin.display(description=gettext_lazy("Health"), ordering="health_status")
    def health_badge(self, obj):
        return badge(obj.health_status)

    # ----- actions (thin: they call services)

    @admin.action(description=gettext_lazy("Make primary"))
    def make_primary(self, request, queryset):
        selected = list(queryset[:2])
        if len(selected) != 1:
            self.message_user(request, _("Select exactly one integration to make primary."), messages.ERROR)
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
            previous = result.previous.display_name if result.previous else _("none")
            self.message_user(
                request,
                _("%(name)s is now primary (was %(previous)s).") % {"name": integration.display_name, "previous": previous},
                messages.SUCCESS,
            )
        else:
            self.message_user(
                request, _("%(name)s was already primary.") % {"name": integration.display_name}, messages.INFO
            )

    @admin.action(description=gettext_lazy("Test connection"))
    def test_connection(self, request, queryset):
        for integration in queryset:
            if not self.has_change_permission(request, integration):
                raise PermissionDenied
            health = integration_test_connection(integration=integration, actor=request.user)
            level = messages.SUCCESS if health.ok else messages.WARNING
            self.message_user(
                request,
                f"{integration.display_name}: {OrganizationIntegration.Health(health.status.value).label} "
                f"({health.latency_ms} ms) {health.detail}",
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
                    "title": _("Choose a provider"),
                    "providers": [
                        {
                            "name": provider.name,
                            "channel": provider.channel,
                            "display_name": provider.display_name,
                            "description": provider_text(provider.description),
                            "official": provider.official,
                            "stability": provider.stability,
                            "price_label": price_label(provider.name),  # the label every screen shows
                        }
                        for provider in get_registry().all()
                    ],
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
                form.attach_errors(exc)
            except ServiceError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(request, _("Saved %(name)s.") % {"name": saved.display_name}, messages.SUCCESS)
                if "_continue" in request.POST:
                    return HttpResponseRedirect(
                        reverse("admin:integrations_organizationintegration_change", args=[saved.pk])
                    )
                return HttpResponseRedirect(reverse("admin:integrations_organizationintegration_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": (_("Change %(provider)s integration") if obj else _("Add %(provider)s integration"))
            % {"provider": provider_class.display_name},
            "form": form,
            "original": obj,
            "provider_class": provider_class,
            "can_change": can_change,
            "masked": masked_credentials(obj) if obj is not None else {},
            "webhook_url": obj.webhook_url if obj is not None else "",
            "has_delete_permission": obj is not None and self.has_delete_permission(request, obj),
        }
        return TemplateResponse(request, self.change_form_template, context)

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
