"""A provider integration's detail page: status, masked credentials, usage this month,
advanced settings, connection test, credential replacement and (for WhatsApp Web) pairing."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from integrations.errors import ServiceError
from integrations.forms import ProviderSettingsForm
from integrations.models import OrganizationIntegration
from integrations.provider_words import provider_text
from integrations.selectors.integrations import masked_credentials
from integrations.selectors.usage import usage_this_month
from integrations.services.health import integration_test_connection
from integrations.services.integrations import integration_update
from integrations.views.access import admin_context, integration_or_404, management_required
from integrations.views.presenters import card, provider_class_or_none

ADVANCED_SETTINGS = ("delivery_receipts", "require_webhook_signature", "business_hours_auto_reply")
PAIRING_TEMPLATE = "integrations/_pairing_qr.html"


class AdvancedSettingsForm(forms.Form):
    delivery_receipts = forms.BooleanField(required=False, label=gettext_lazy("Enable delivery receipts"))
    require_webhook_signature = forms.BooleanField(
        required=False, label=gettext_lazy("Require webhook signature verification")
    )
    business_hours_auto_reply = forms.CharField(
        required=False,
        label=gettext_lazy("Business-hours auto-reply"),
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("Sent in reply to inbound messages outside business hours; blank for none."),
    )

    @classmethod
    def for_integration(cls, integration: OrganizationIntegration, data=None) -> AdvancedSettingsForm:
        config = integration.config or {}
        return cls(
            data,
            initial={
                "delivery_receipts": config.get("delivery_receipts", True),
                "require_webhook_signature": config.get("require_webhook_signature", True),
                "business_hours_auto_reply": config.get("business_hours_auto_reply", ""),
            },
        )


def _credentials_form(integration: OrganizationIntegration, data=None) -> ProviderSettingsForm | None:
    provider_class = provider_class_or_none(integration.provider_name)
    if provider_class is None:
        return None
    return ProviderSettingsForm(
        data, provider_class=provider_class, instance=integration, with_name=False, secrets_only=True
    )


def _render(request, integration: OrganizationIntegration, *, advanced_form=None, credentials_form=None) -> HttpResponse:
    organization = integration.organization
    provider_class = provider_class_or_none(integration.provider_name)
    labels = {f.name: provider_text(f.label) for f in (provider_class.config_fields if provider_class else ())}
    config = integration.config or {}
    context = admin_context(request, integration.display_name)
    context.update(
        {
            "organization": organization,
            "card": card(integration),
            "integration": integration,
            "masked": [
                (labels.get(name, name), value)
                for name, value in (masked_credentials(integration) if provider_class else {}).items()
            ],
            "settings_shown": [
                (labels.get(key, key), value)
                for key, value in config.items()
                if key not in ADVANCED_SETTINGS
                and key != "pricing"
                and provider_class
                and key in provider_class.setting_field_names()
            ],
            "usage": usage_this_month(organization=organization, channel=integration.channel, integration=integration),
            "advanced_form": advanced_form or AdvancedSettingsForm.for_integration(integration),
            "credentials_form": credentials_form or _credentials_form(integration),
            "pairing_template": PAIRING_TEMPLATE if integration.provider_name == "whatsapp_web" else "",
            "action_urls": {
                action: reverse(f"provider_admin:integration_{action}", args=[integration.pk])
                for action in ("test", "settings", "credentials")
            },
            "status_url": reverse("provider_admin:status"),
            "migrate_url": reverse("provider_admin:migrate", args=[organization.slug, integration.channel]),
        }
    )
    return render(request, "admin/providers/detail.html", context)


@management_required
@require_GET
def integration_detail(request: HttpRequest, integration_id) -> HttpResponse:
    return _render(request, integration_or_404(request, integration_id))


def detail_action(action: Callable) -> Callable:
    """A POST on the detail page: run it, show a service's refusal as a message, go back."""

    @management_required
    @require_POST
    @wraps(action)
    def view(request: HttpRequest, integration_id) -> HttpResponse:
        integration = integration_or_404(request, integration_id)
        try:
            response = action(request, integration)
        except ServiceError as exc:
            messages.error(request, exc.message)
            response = None
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
            response = None
        return response or redirect("provider_admin:integration", integration.pk)

    return view


@detail_action
def test_connection(request, integration):
    health = integration_test_connection(integration=integration, actor=request.user)
    level = messages.SUCCESS if health.ok else messages.ERROR
    status = OrganizationIntegration.Health(health.status.value).label
    messages.add_message(
        request,
        level,
        _("Connection test: %(status)s (%(latency)s ms). %(detail)s")
        % {"status": status, "latency": health.latency_ms, "detail": health.detail},
    )


@detail_action
def save_settings(request, integration):
    form = AdvancedSettingsForm.for_integration(integration, data=request.POST)
    if not form.is_valid():
        return _render(request, integration, advanced_form=form)
    integration_update(integration=integration, actor=request.user, config={**(integration.config or {}), **form.cleaned_data})
    messages.success(request, _("Settings saved."))


@detail_action
def replace_credentials(request, integration):
    form = _credentials_form(integration, data=request.POST)
    if form is None:
        return None
    if not form.is_valid():
        return _render(request, integration, credentials_form=form)
    _settings, credentials = form.split()
    if not credentials:
        messages.info(request, _("No credential typed; nothing changed."))
        return None
    integration_update(integration=integration, actor=request.user, credentials=credentials, reason="credentials replaced")
    messages.success(request, _("Credentials replaced: %(names)s.") % {"names": ", ".join(sorted(credentials))})
