"""The admin's provider screens: dashboard, migration wizard, provider detail, migration history.

Thin views under the admin site (each URL is wrapped with ``admin.site.admin_view``): they find
the organization among the ones the user administers, call one service, and render. Another
organization's screens answer 404, as if they did not exist. ``PROVIDER_MANAGEMENT_ENABLED`` off
hides every screen (404) and the services refuse migrations.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET, require_http_methods

from audit.models import AuditEvent
from integrations.models import Channel, Organization, OrganizationIntegration, ProviderMigration
from integrations.selectors import (
    administered_organizations,
    masked_credentials,
    primary_integration,
)
from integrations.selectors_usage import usage_this_month
from integrations.services import migration as migration_service
from integrations.services.errors import NotFound, ServiceError
from integrations.services.health import integration_test_connection
from integrations.services.integrations import integration_update
from providers.config import ConfigField
from providers.registry import UnknownProvider, get_registry

State = ProviderMigration.State

# Status → (css key, label, symbol). The label and symbol carry the meaning; colour only repeats it.
STATUS_STYLES = {
    "active": ("Active", "●"),
    "configuring": ("Configuring", "◐"),
    "degraded": ("Degraded", "▲"),
    "down": ("Down", "✕"),
    "error": ("Error", "✕"),
    "inactive": ("Inactive", "○"),
}

ADVANCED_SETTINGS = ("delivery_receipts", "require_webhook_signature", "business_hours_auto_reply")


# ----- helpers


def management_required(view: Callable) -> Callable:
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not migration_service.management_enabled():
            raise Http404("Provider management is switched off.")
        return view(request, *args, **kwargs)

    return wrapper


def _organization(request: HttpRequest, slug: str) -> Organization:
    organization = administered_organizations(request.user).filter(slug=slug).first()
    if organization is None:
        raise Http404("No such organization among the ones you administer.")
    return organization


def _migration(organization: Organization, channel: str, migration_id) -> ProviderMigration:
    try:
        migration = migration_service.migration_get(organization=organization, migration_id=migration_id)
    except NotFound:
        raise Http404("No such migration.") from None
    if migration.channel != channel:
        raise Http404("No such migration.")
    return migration


def _integration(request: HttpRequest, integration_id) -> OrganizationIntegration:
    found = (
        OrganizationIntegration.objects.filter(
            pk=integration_id, organization__in=administered_organizations(request.user)
        )
        .select_related("organization")
        .first()
    )
    if found is None:
        raise Http404("No such integration among your organizations.")
    return found


def _channel(channel: str) -> str:
    if channel not in Channel.values:
        raise Http404("Unknown channel.")
    return channel


def _admin_context(request: HttpRequest, title: str) -> dict:
    return {**admin.site.each_context(request), "title": title}


def status_of(integration: OrganizationIntegration) -> dict:
    if integration.status == OrganizationIntegration.Status.PENDING:
        key = "configuring"
    elif integration.status == OrganizationIntegration.Status.ERROR:
        key = "error"
    elif integration.status == OrganizationIntegration.Status.INACTIVE:
        key = "inactive"
    elif (
        integration.breaker_is_open()
        or integration.health_status == OrganizationIntegration.Health.DOWN
    ):
        key = "down"
    elif integration.health_status == OrganizationIntegration.Health.DEGRADED:
        key = "degraded"
    else:
        key = "active"
    label, symbol = STATUS_STYLES[key]
    return {"key": key, "label": label, "symbol": symbol}


def _provider_class(name: str):
    try:
        return get_registry().get(name)
    except UnknownProvider:
        return None


def _analytics():
    """The cost-analytics service, when this installation has it (it is built separately)."""
    try:
        from integrations.services import analytics
    except ImportError:
        return None
    return analytics


def price_label(
    provider_class, config: dict | None = None, integration: OrganizationIntegration | None = None
) -> str:
    if provider_class is None or not hasattr(provider_class, "pricing"):
        return "price unknown"
    analytics = _analytics()
    if analytics is not None and hasattr(analytics, "unit_price_label"):
        return analytics.unit_price_label(provider_class, integration)
    pricing = provider_class.pricing.with_overrides(config)
    price = pricing.price_for()
    text = (
        f"{pricing.currency} {price.normalize():f}/{pricing.unit}"
        if price
        else f"Free per {pricing.unit}"
    )
    if pricing.category_prices:
        text += (
            " (templates: "
            + ", ".join(f"{k} {v.normalize():f}" for k, v in pricing.category_prices.items() if v)
            + ")"
        )
    if pricing.monthly_fee:
        text += f" + {pricing.currency} {pricing.monthly_fee.normalize():f}/month"
    return text


def _card(integration: OrganizationIntegration) -> dict:
    provider_class = _provider_class(integration.provider_name)
    try:
        change_url = reverse(
            "admin:integrations_organizationintegration_change", args=[integration.pk]
        )
    except NoReverseMatch:
        change_url = ""
    return {
        "integration": integration,
        "provider_display": provider_class.display_name
        if provider_class
        else integration.provider_name,
        "status": status_of(integration),
        "price": price_label(provider_class, integration.config, integration),
        "detail_url": reverse("provider_admin:integration", args=[integration.pk]),
        "change_url": change_url,
    }


def _status_json(integration: OrganizationIntegration) -> dict:
    return {
        "id": str(integration.pk),
        "status": status_of(integration),
        "is_primary": integration.is_primary,
        "health": integration.get_health_status_display(),
        "checked_at": integration.health_checked_at.isoformat()
        if integration.health_checked_at
        else None,
        "latency_ms": integration.health_latency_ms,
    }


def _usage(organization: Organization) -> dict:
    """Usage this month, counted from Message and Call rows."""
    return {
        channel: usage_this_month(organization=organization, channel=channel)
        for channel in Channel.values
    }


def _cost_summary(organization: Organization) -> dict | None:
    """The cost-analytics service's month summary (cost, savings), when it is installed."""
    analytics = _analytics()
    if analytics is None or not hasattr(analytics, "month_summary"):
        return None
    return analytics.month_summary(organization=organization)


def _costs_url() -> str:
    from django.urls import Resolver404, resolve

    try:
        resolve("/admin/providers/costs/")
    except Resolver404:
        return ""
    return "/admin/providers/costs/"


# ----- dashboard


@management_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    organizations = []
    for organization in administered_organizations(request.user):
        channels = []
        for value, label in Channel.choices:
            rows = list(
                OrganizationIntegration.objects.for_org(organization)
                .for_channel(value)
                .in_route_order()
            )
            channels.append(
                {
                    "value": value,
                    "label": label,
                    "cards": [_card(row) for row in rows],
                    "open_migration": migration_service.open_migration(
                        organization=organization, channel=value
                    ),
                    "migrate_url": reverse(
                        "provider_admin:migrate", args=[organization.slug, value]
                    ),
                }
            )
        organizations.append(
            {
                "organization": organization,
                "channels": channels,
                "usage": _usage(organization),
                "cost_summary": _cost_summary(organization),
                "history_url": reverse("provider_admin:history", args=[organization.slug]),
            }
        )
    context = _admin_context(request, "Providers")
    context.update(
        {
            "organizations": organizations,
            "status_url": reverse("provider_admin:status"),
            "costs_url": _costs_url(),
        }
    )
    return render(request, "admin/providers/dashboard.html", context)


@management_required
@require_GET
def dashboard_status(request: HttpRequest) -> JsonResponse:
    rows = []
    for organization in administered_organizations(request.user):
        rows.extend(
            _status_json(row) for row in OrganizationIntegration.objects.for_org(organization)
        )
    return JsonResponse({"integrations": rows})


# ----- the wizard


def _field_for(config_field: ConfigField, *, keep_secret: bool) -> forms.Field:
    common = {
        "label": config_field.label,
        "help_text": config_field.help_text,
        "required": config_field.required and not (config_field.secret and keep_secret),
    }
    if config_field.secret:
        if keep_secret:
            common["help_text"] = (
                common["help_text"] + " Leave blank to keep the stored value."
            ).strip()
        return forms.CharField(
            widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
            **common,
        )
    initial = config_field.default
    if config_field.kind == "int":
        return forms.IntegerField(initial=initial, **common)
    if config_field.kind == "float":
        return forms.FloatField(initial=initial, **common)
    if config_field.kind == "bool":
        return forms.BooleanField(initial=bool(initial), **{**common, "required": False})
    if config_field.kind == "choice":
        return forms.ChoiceField(
            choices=[("", "—")] + [(c, c) for c in config_field.choices], initial=initial, **common
        )
    return forms.CharField(initial=initial, **common)


def provider_config_form(
    provider_class, *, data=None, initial=None, keep_secrets: bool = False, with_name: bool = True
) -> forms.Form:
    """A form built from the provider's ``config_fields``; secret fields are password inputs."""
    fields: dict[str, forms.Field] = {}
    if with_name:
        fields["display_name"] = forms.CharField(
            label="Name", max_length=120, initial=f"{provider_class.display_name}"
        )
    for config_field in provider_class.config_fields:
        fields[f"cfg__{config_field.name}"] = _field_for(config_field, keep_secret=keep_secrets)
    form_class = type("ProviderConfigForm", (forms.Form,), fields)
    return form_class(data=data, initial=initial)


def _split_form(provider_class, cleaned: dict) -> tuple[dict, dict]:
    config, credentials = {}, {}
    for config_field in provider_class.config_fields:
        value = cleaned.get(f"cfg__{config_field.name}")
        if value in (None, ""):
            continue
        (credentials if config_field.secret else config)[config_field.name] = value
    return config, credentials


def _attach_errors(form: forms.Form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for name, errors in exc.message_dict.items():
            field = (
                f"cfg__{name}"
                if f"cfg__{name}" in form.fields
                else (
                    "display_name"
                    if name == "display_name" and "display_name" in form.fields
                    else None
                )
            )
            for message in errors:
                form.add_error(field, message)
    else:
        for message in exc.messages:
            form.add_error(None, message)


def _wizard_step(migration: ProviderMigration | None) -> int:
    if migration is None:
        return 1
    if migration.state == State.DRAFT:
        return 2
    if migration.state == State.CONFIGURED:
        return 3
    if migration.state in (State.TESTED, State.EXECUTING):
        return 4
    return 5


def _provider_options(channel: str, current: OrganizationIntegration | None) -> list[dict]:
    current_class = _provider_class(current.provider_name) if current else None
    options = []
    for provider_class in get_registry().all(channel):
        differences = []
        if current_class is not None:
            if provider_class.official != current_class.official:
                differences.append("official" if provider_class.official else "unofficial")
            if provider_class.stability != current_class.stability:
                differences.append(
                    f"stability {provider_class.stability} (now {current_class.stability})"
                )
            gained = sorted(set(provider_class.features) - set(current_class.features))
            lost = sorted(set(current_class.features) - set(provider_class.features))
            if gained:
                differences.append("adds " + ", ".join(gained))
            if lost:
                differences.append("lacks " + ", ".join(lost))
        options.append(
            {
                "name": provider_class.name,
                "display_name": provider_class.display_name,
                "description": provider_class.description,
                "official": provider_class.official,
                "stability": str(provider_class.stability),
                "features": sorted(provider_class.features),
                "price": price_label(provider_class),
                "differences": differences,
                "is_current": current_class is provider_class,
            }
        )
    return options


@management_required
@require_http_methods(["GET", "POST"])
def migrate(request: HttpRequest, organization_slug: str, channel: str) -> HttpResponse:
    organization = _organization(request, organization_slug)
    channel = _channel(channel)
    migration = migration_service.open_migration(organization=organization, channel=channel)
    if migration is not None and migration.state == State.EXECUTING:
        return redirect("provider_admin:migration", organization.slug, channel, migration.pk)
    here = reverse("provider_admin:migrate", args=[organization.slug, channel])
    config_form = None
    test_health = None

    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "select":
                provider_name = request.POST.get("provider_name", "")
                if migration is None:
                    migration_service.migration_start(
                        organization=organization,
                        channel=channel,
                        provider_name=provider_name,
                        actor=request.user,
                    )
                elif request.POST.get("migration_id") != str(migration.pk):
                    # Someone else opened a migration of this channel after this page was shown.
                    messages.error(request, migration_service.concurrent_message(migration))
                    return redirect(here)
                else:
                    migration_service.migration_select_provider(
                        migration=migration, provider_name=provider_name, actor=request.user
                    )
                return redirect(here)
            if migration is None:
                messages.error(request, "This migration is no longer open; start again.")
                return redirect(here)
            if action == "cancel":
                migration_service.migration_cancel(migration=migration, actor=request.user)
                messages.info(request, "Migration cancelled; nothing changed.")
                return redirect("provider_admin:dashboard")
            if action == "back":
                migration_service.migration_select_provider(
                    migration=migration,
                    provider_name=migration.target_provider_name,
                    actor=request.user,
                )
                return redirect(here)
            if action == "configure":
                provider_class = get_registry().get(migration.target_provider_name)
                existing = request.POST.get("existing", "")
                if existing:
                    migration_service.migration_configure(
                        migration=migration, actor=request.user, existing_integration_id=existing
                    )
                    return redirect(here)
                config_form = provider_config_form(provider_class, data=request.POST)
                if config_form.is_valid():
                    config, credentials = _split_form(provider_class, config_form.cleaned_data)
                    try:
                        migration_service.migration_configure(
                            migration=migration,
                            actor=request.user,
                            display_name=config_form.cleaned_data["display_name"],
                            config=config,
                            credentials=credentials,
                        )
                        return redirect(here)
                    except ValidationError as exc:
                        _attach_errors(config_form, exc)
            elif action == "test":
                test_health = migration_service.migration_test(
                    migration=migration, actor=request.user
                )
                tested = migration_service.migration_get(
                    organization=organization, migration_id=migration.pk
                )
                if tested.state == State.TESTED:
                    messages.success(
                        request, f"Connection test passed ({test_health.latency_ms} ms)."
                    )
                else:
                    messages.error(
                        request,
                        "The connection test failed; see below, fix the configuration or retry.",
                    )
                return redirect(here)
            elif action == "test_message":
                message_id = migration_service.migration_send_test_message(
                    migration=migration, to=request.POST.get("to", ""), actor=request.user
                )
                messages.success(request, f"Test message sent ({message_id}).")
                return redirect(here)
            elif action == "execute":
                migration_service.migration_begin_execute(migration=migration, actor=request.user)
                return redirect(
                    "provider_admin:migration", organization.slug, channel, migration.pk
                )
            else:
                messages.error(request, "Unknown wizard action.")
                return redirect(here)
        except ServiceError as exc:
            messages.error(request, exc.message)
            return redirect(here)
        except ValidationError as exc:
            if config_form is None:
                for message in exc.messages:
                    messages.error(request, message)
                return redirect(here)
            _attach_errors(config_form, exc)
        migration = migration_service.open_migration(organization=organization, channel=channel)

    current = primary_integration(organization=organization, channel=channel)
    step = _wizard_step(migration)
    if request.GET.get("step") == "1" and step in (2, 3, 4):
        step = 1  # back to choosing the provider; choosing again keeps the same migration
    context = _admin_context(
        request, f"Migrate {Channel(channel).label} provider — {organization.name}"
    )
    context.update(
        {
            "organization": organization,
            "channel": channel,
            "channel_label": Channel(channel).label,
            "migration": migration,
            "step": step,
            "steps": WIZARD_STEPS,
            "current": current,
            "current_card": _card(current) if current else None,
            "here": here,
            "test_health": test_health,
        }
    )
    if step == 1:
        context["options"] = _provider_options(channel, current)
        others = [option["name"] for option in context["options"] if not option["is_current"]]
        context["preselected"] = others[0] if others else ""
    elif step == 2:
        provider_class = _provider_class(migration.target_provider_name)
        context["target_provider"] = provider_class
        context["target_price"] = price_label(provider_class)
        context["config_form"] = config_form or provider_config_form(provider_class)
        context["reusable"] = [
            _card(row)
            for row in OrganizationIntegration.objects.for_org(organization)
            .for_channel(channel)
            .filter(provider_name=migration.target_provider_name, is_primary=False)
            .in_route_order()
        ]
    elif step in (3, 4):
        context["target_card"] = _card(migration.target) if migration.target else None
    return render(request, "admin/providers/wizard.html", context)


WIZARD_STEPS = ("Provider", "Configure", "Test", "Execute", "Confirm")


def _migration_audit(migration: ProviderMigration):
    return (
        AuditEvent.objects.for_org(migration.organization)
        .filter(
            Q(target_id=str(migration.pk))
            | Q(action="provider.switched", reason__contains=str(migration.pk))
        )
        .order_by("created_at")
    )


def _migration_json(migration: ProviderMigration) -> dict:
    return {
        "id": str(migration.pk),
        "state": migration.state,
        "state_label": migration.get_state_display(),
        "progress": migration.progress,
        "error": migration.error,
        "log": migration.log,
        "finished": migration.state not in ProviderMigration.OPEN_STATES,
        "rollback_available": migration_service.rollback_available(migration),
    }


@management_required
@require_http_methods(["GET", "POST"])
def migration_detail(
    request: HttpRequest, organization_slug: str, channel: str, migration_id
) -> HttpResponse:
    organization = _organization(request, organization_slug)
    migration = _migration(organization, channel, migration_id)
    if request.method == "POST":
        if request.POST.get("action") == "rollback":
            try:
                migration_service.migration_rollback(
                    migration=migration,
                    actor=request.user,
                    reason=request.POST.get("reason", "").strip(),
                )
                messages.success(request, "Rolled back: the previous provider is primary again.")
            except ServiceError as exc:
                messages.error(request, exc.message)
        return redirect("provider_admin:migration", organization.slug, channel, migration.pk)
    current = primary_integration(organization=organization, channel=channel)
    context = _admin_context(
        request, f"Migration of {migration.get_channel_display()} — {organization.name}"
    )
    context.update(
        {
            "organization": organization,
            "channel": channel,
            "channel_label": Channel(channel).label,
            "migration": migration,
            "step": _wizard_step(migration),
            "steps": WIZARD_STEPS,
            "execution_steps": migration_service.EXECUTION_STEPS,
            "current_card": _card(current) if current else None,
            "rollback_available": migration_service.rollback_available(migration),
            "audit_events": _migration_audit(migration),
            "status_url": reverse(
                "provider_admin:migration_status", args=[organization.slug, channel, migration.pk]
            ),
            "target_detail_url": reverse("provider_admin:integration", args=[migration.target_id])
            if migration.target_id
            else "",
        }
    )
    return render(request, "admin/providers/migration.html", context)


@management_required
@require_GET
def migration_status(
    request: HttpRequest, organization_slug: str, channel: str, migration_id
) -> JsonResponse:
    migration = _migration(_organization(request, organization_slug), channel, migration_id)
    return JsonResponse(_migration_json(migration))


# ----- history


@management_required
@require_GET
def history(request: HttpRequest, organization_slug: str) -> HttpResponse:
    organization = _organization(request, organization_slug)
    rows = []
    for migration in migration_service.migration_history(organization=organization):
        duration = None
        if migration.started_at and migration.finished_at:
            duration = (migration.finished_at - migration.started_at).total_seconds()
        rows.append(
            {
                "migration": migration,
                "duration": duration,
                "url": reverse(
                    "provider_admin:migration",
                    args=[organization.slug, migration.channel, migration.pk],
                ),
            }
        )
    context = _admin_context(request, f"Migration history — {organization.name}")
    context.update(
        {
            "organization": organization,
            "rows": rows,
            "success": migration_service.migration_success_rate(organization=organization),
        }
    )
    return render(request, "admin/providers/history.html", context)


# ----- provider detail


def _pairing_template() -> str:
    try:
        get_template("integrations/_pairing_qr.html")
    except TemplateDoesNotExist:
        return ""
    return "integrations/_pairing_qr.html"


class AdvancedSettingsForm(forms.Form):
    delivery_receipts = forms.BooleanField(required=False, label="Enable delivery receipts")
    require_webhook_signature = forms.BooleanField(
        required=False, label="Require webhook signature verification"
    )
    business_hours_auto_reply = forms.CharField(
        required=False,
        label="Business-hours auto-reply",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Sent in reply to inbound messages outside business hours; blank for none.",
    )


@management_required
@require_http_methods(["GET", "POST"])
def integration_detail(request: HttpRequest, integration_id) -> HttpResponse:
    integration = _integration(request, integration_id)
    organization = integration.organization
    provider_class = _provider_class(integration.provider_name)
    here = reverse("provider_admin:integration", args=[integration.pk])
    config = dict(integration.config or {})
    advanced_form = AdvancedSettingsForm(
        initial={
            "delivery_receipts": config.get("delivery_receipts", True),
            "require_webhook_signature": config.get("require_webhook_signature", True),
            "business_hours_auto_reply": config.get("business_hours_auto_reply", ""),
        }
    )
    credentials_form = None
    if provider_class is not None:
        credentials_form = provider_config_form(provider_class, keep_secrets=True, with_name=False)
        credentials_form.fields = {
            k: v
            for k, v in credentials_form.fields.items()
            if k.removeprefix("cfg__") in provider_class.secret_field_names()
        }

    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "test":
                health = integration_test_connection(integration=integration, actor=request.user)
                level = messages.SUCCESS if health.ok else messages.ERROR
                messages.add_message(
                    request,
                    level,
                    f"Connection test: {health.status.value} "
                    f"({health.latency_ms} ms). {health.detail}",
                )
                return redirect(here)
            if action == "save":
                advanced_form = AdvancedSettingsForm(data=request.POST)
                if advanced_form.is_valid():
                    config.update(advanced_form.cleaned_data)
                    integration_update(integration=integration, actor=request.user, config=config)
                    messages.success(request, "Settings saved.")
                    return redirect(here)
            if action == "replace_credentials" and credentials_form is not None:
                credentials_form = provider_config_form(
                    provider_class, data=request.POST, keep_secrets=True, with_name=False
                )
                credentials_form.fields = {
                    k: v
                    for k, v in credentials_form.fields.items()
                    if k.removeprefix("cfg__") in provider_class.secret_field_names()
                }
                if credentials_form.is_valid():
                    _, credentials = _split_form(provider_class, credentials_form.cleaned_data)
                    if credentials:
                        integration_update(
                            integration=integration,
                            actor=request.user,
                            credentials=credentials,
                            reason="credentials replaced",
                        )
                        messages.success(
                            request, "Credentials replaced: " + ", ".join(sorted(credentials)) + "."
                        )
                    else:
                        messages.info(request, "No credential typed; nothing changed.")
                    return redirect(here)
        except ServiceError as exc:
            messages.error(request, exc.message)
            return redirect(here)
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
            return redirect(here)

    secret_labels = {
        f.name: f.label for f in (provider_class.config_fields if provider_class else ())
    }
    context = _admin_context(request, integration.display_name)
    context.update(
        {
            "organization": organization,
            "card": _card(integration),
            "integration": integration,
            "masked": [
                (secret_labels.get(name, name), value)
                for name, value in (
                    masked_credentials(integration) if provider_class else {}
                ).items()
            ],
            "settings_shown": [
                (secret_labels.get(k, k), v)
                for k, v in config.items()
                if k not in ADVANCED_SETTINGS
                and k != "pricing"
                and provider_class
                and k in provider_class.setting_field_names()
            ],
            "usage": usage_this_month(
                organization=organization, channel=integration.channel, integration=integration
            ),
            "advanced_form": advanced_form,
            "credentials_form": credentials_form,
            "pairing_template": _pairing_template()
            if integration.provider_name == "whatsapp_web"
            else "",
            "status_url": reverse("provider_admin:status"),
            "migrate_url": reverse(
                "provider_admin:migrate", args=[organization.slug, integration.channel]
            ),
        }
    )
    return render(request, "admin/providers/detail.html", context)


def urls():
    """URL patterns for config/urls.py, each wrapped with the admin site's login and staff check.
    Include them before ``admin.site.urls``."""
    from django.urls import path

    wrap = admin.site.admin_view
    patterns = [
        path("", wrap(dashboard), name="dashboard"),
        path("status.json", wrap(dashboard_status), name="status"),
        path("integration/<uuid:integration_id>/", wrap(integration_detail), name="integration"),
        path("<slug:organization_slug>/history/", wrap(history), name="history"),
        path("<slug:organization_slug>/<str:channel>/migrate/", wrap(migrate), name="migrate"),
        path(
            "<slug:organization_slug>/<str:channel>/migrate/<uuid:migration_id>/",
            wrap(migration_detail),
            name="migration",
        ),
        path(
            "<slug:organization_slug>/<str:channel>/migrate/<uuid:migration_id>/status.json",
            wrap(migration_status),
            name="migration_status",
        ),
    ]
    return patterns, "provider_admin"
