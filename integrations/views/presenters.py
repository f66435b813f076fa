"""How the admin's provider screens show an integration, a provider and a migration."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from integrations.models import OrganizationIntegration, ProviderMigration
from integrations.provider_words import provider_text
from integrations.reports.wording import (
    RULE_FEATURES,
    STABILITY_WORDS,
    feature_list,
    full_when,
    provider_differences,
    relative_when,
)
from integrations.selectors.policies import spend_cap_of
from integrations.services.costs.comparison import last_month_costs
from integrations.services.costs.options import price_label as costs_price_label
from integrations.services.costs.options import price_model_for
from integrations.services.migration.execution import rollback_available
from integrations.services.migration.state import EXECUTION_STEPS
from providers.base import Provider
from providers.registry import UnknownProvider, get_registry

State = ProviderMigration.State

# Status → (label, symbol). The label and symbol carry the meaning; colour only repeats it.
STATUS_STYLES = {
    "active": (gettext_lazy("Active"), "●"),
    "configuring": (gettext_lazy("Configuring"), "◐"),
    "degraded": (gettext_lazy("Degraded"), "▲"),
    "down": (gettext_lazy("Down"), "✕"),
    "error": (gettext_lazy("Error"), "✕"),
    "inactive": (gettext_lazy("Inactive"), "○"),
}

WIZARD_STEPS = (
    gettext_lazy("Provider"),
    gettext_lazy("Configure"),
    gettext_lazy("Test"),
    gettext_lazy("Execute"),
    gettext_lazy("Confirm"),
)


# Execution step state → (label, symbol); the label and symbol carry the meaning.
EXECUTION_STATE_LABELS = {
    "done": (gettext_lazy("Done"), "✓"),
    "running": (gettext_lazy("Running…"), "◐"),
    "failed": (gettext_lazy("Failed"), "✕"),
    "not_run": (gettext_lazy("Not run"), "–"),
    "waiting": (gettext_lazy("Waiting"), "○"),
}


def provider_class_or_none(name: str) -> type[Provider] | None:
    try:
        return get_registry().get(name)
    except UnknownProvider:
        return None


def status_of(integration: OrganizationIntegration) -> dict:
    if integration.status == OrganizationIntegration.Status.PENDING:
        key = "configuring"
    elif integration.status == OrganizationIntegration.Status.ERROR:
        key = "error"
    elif integration.status == OrganizationIntegration.Status.INACTIVE:
        key = "inactive"
    elif integration.breaker_is_open() or integration.health_status == OrganizationIntegration.Health.DOWN:
        key = "down"
    elif integration.health_status == OrganizationIntegration.Health.DEGRADED:
        key = "degraded"
    else:
        key = "active"
    label, symbol = STATUS_STYLES[key]
    return {"key": key, "label": str(label), "symbol": symbol}


def health_text(integration: OrganizationIntegration) -> str:
    """The card's health line, in the request's language: "Healthy · checked 3 minutes ago"."""
    if integration.health_checked_at is None:
        checked = _("never checked")
    else:
        checked = _("checked %(when)s") % {"when": relative_when(integration.health_checked_at)}
    return f"{integration.get_health_status_display()} · {checked}"


def price_label(provider_class: type[Provider] | None, integration: OrganizationIntegration | None = None) -> str:
    """The provider's price label (with the integration's overrides, when given), from the one
    function every screen uses (``services.costs.options.price_label``)."""
    if provider_class is None:
        return _("price unknown")
    return costs_price_label(provider_class.name, integration=integration)


def card(integration: OrganizationIntegration) -> dict:
    provider_class = provider_class_or_none(integration.provider_name)
    try:
        change_url = reverse("admin:integrations_organizationintegration_change", args=[integration.pk])
    except NoReverseMatch:
        change_url = ""
    return {
        "integration": integration,
        "provider_display": provider_class.display_name if provider_class else integration.provider_name,
        "status": status_of(integration),
        "price": price_label(provider_class, integration),
        "health_text": health_text(integration),
        "checked_full": full_when(integration.health_checked_at),
        "detail_url": reverse("provider_admin:integration", args=[integration.pk]),
        "change_url": change_url,
        "spend_cap": spend_cap_line(integration),
    }


def spend_cap_line(integration: OrganizationIntegration) -> dict | None:
    """Spend against the integration's monthly budget, when it has one (docs/POLICIES.md)."""
    cap = spend_cap_of(integration=integration)
    if cap is None:
        return None
    percent = cap.spent * 100 / cap.monthly_budget if cap.monthly_budget else 100
    return {"spent": cap.spent, "budget": cap.monthly_budget, "currency": cap.currency,
            "percent": f"{percent:.0f}%", "reached": cap.reached}


def status_json(integration: OrganizationIntegration) -> dict:
    return {
        "id": str(integration.pk),
        "status": status_of(integration),
        "is_primary": integration.is_primary,
        "health": integration.get_health_status_display(),
        "health_text": health_text(integration),
        "checked_full": full_when(integration.health_checked_at),
        "checked_at": integration.health_checked_at.isoformat() if integration.health_checked_at else None,
        "latency_ms": integration.health_latency_ms,
    }


def execution_progress(migration: ProviderMigration) -> list[dict]:
    """Step 4's steps as the log recorded them: done, running (the first not done while it
    executes), failed, not run (after a rollback or failure) or waiting."""
    recorded = {entry["step"]: entry for entry in migration.log or [] if entry.get("step")}
    rows, running_shown = [], False
    for key, label, _progress in EXECUTION_STEPS:
        entry = recorded.get(key)
        if entry is not None:
            state = "failed" if entry.get("outcome") == "failed" else "done"
        elif migration.state == State.EXECUTING and not running_shown:
            state, running_shown = "running", True
        elif migration.state in (State.FAILED, State.ROLLED_BACK, State.CANCELLED):
            state = "not_run"
        else:
            state = "waiting"
        rows.append(
            {
                "key": key,
                "label": _(label),
                "state": state,
                "state_label": str(EXECUTION_STATE_LABELS[state][0]),
                "symbol": EXECUTION_STATE_LABELS[state][1],
                "at": entry.get("at") if entry else None,
                "detail": entry.get("detail", "") if entry else "",
            }
        )
    return rows


def migration_json(migration: ProviderMigration) -> dict:
    return {
        "id": str(migration.pk),
        "state": migration.state,
        "state_label": migration.get_state_display(),
        "progress": migration.progress,
        "error": migration.error,
        "log": migration.log,
        "finished": migration.state not in ProviderMigration.OPEN_STATES,
        "rollback_available": rollback_available(migration),
        "steps": execution_progress(migration),
    }


def wizard_step(migration: ProviderMigration | None) -> int:
    if migration is None:
        return 1
    if migration.state == State.DRAFT:
        return 2
    if migration.state == State.CONFIGURED:
        return 3
    if migration.state in (State.TESTED, State.EXECUTING):
        return 4
    return 5


def provider_options(channel: str, current: OrganizationIntegration | None, organization=None) -> tuple[list[dict], dict]:
    """Wizard step 1: every provider of the channel, how it differs from the current one, its
    price (the current provider's with the current integration's overrides) and what last
    month's usage would have cost on it. Returns (options, last month's usage)."""
    current_class = provider_class_or_none(current.provider_name) if current else None
    providers = list(get_registry().all(channel))

    def priced_as(provider_class) -> OrganizationIntegration | None:
        return current if current_class is provider_class else None

    last_month = (
        last_month_costs(
            organization=organization,
            channel=channel,
            models={p.name: price_model_for(p.name, config=getattr(priced_as(p), "config", None)) for p in providers},
        )
        if organization is not None
        else None
    )
    options = []
    for provider_class in providers:
        differences = provider_differences(provider_class, current_class)
        options.append(
            {
                "name": provider_class.name,
                "display_name": provider_class.display_name,
                "description": provider_text(provider_class.description),
                "official": provider_class.official,
                "stability": str(provider_class.stability),
                "stability_label": str(STABILITY_WORDS.get(str(provider_class.stability), provider_class.stability)),
                "features": sorted(provider_class.features),
                # Rules (the 24-hour window, plain-text fallback) are said among the differences.
                "features_text": feature_list(set(provider_class.features) - RULE_FEATURES),
                "price": price_label(provider_class, priced_as(provider_class)),
                "last_month_cost": last_month["costs"][provider_class.name] if last_month else None,
                "differences": differences,
                "is_current": current_class is provider_class,
            }
        )
    return options, last_month
