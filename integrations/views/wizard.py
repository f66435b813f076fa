"""The migration wizard: one page that shows the open migration's step, and one POST view per
action (select, configure, test, test message, back, execute, cancel, rollback). Each action
calls one service of ``integrations.services.migration`` and goes back to the page."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from integrations.errors import ServiceError
from integrations.forms import ProviderSettingsForm
from integrations.models import Channel, Organization, ProviderMigration
from integrations.reports.wording import audit_change, audit_raw, failed_test
from integrations.selectors.integrations import channel_integrations, primary_integration
from integrations.selectors.migrations import migration_audit_events, open_migration
from integrations.services.migration import execution, wizard
from integrations.services.migration.state import last_test_of
from integrations.views.access import (
    admin_context,
    channel_or_404,
    management_required,
    migration_or_404,
    organization_or_404,
)
from integrations.views.presenters import (
    WIZARD_STEPS,
    card,
    execution_progress,
    migration_json,
    price_label,
    provider_class_or_none,
    provider_options,
    wizard_step,
)

State = ProviderMigration.State


def _wizard_url(organization: Organization, channel: str) -> str:
    return reverse("provider_admin:migrate", args=[organization.slug, channel])


def _migration_context(request, title: str, organization: Organization, channel: str, migration, step: int) -> dict:
    context = admin_context(request, title)
    context.update(
        {
            "organization": organization,
            "channel": channel,
            "channel_label": Channel(channel).label,
            "migration": migration,
            "step": step,
            "steps": WIZARD_STEPS,
        }
    )
    return context


def _render(request, organization: Organization, channel: str, migration, *, config_form=None) -> HttpResponse:
    current = primary_integration(organization=organization, channel=channel)
    step = wizard_step(migration)
    if request.GET.get("step") == "1" and step in (2, 3, 4):
        step = 1  # back to choosing the provider; choosing again keeps the same migration
    context = _migration_context(
        request,
        _("Migrate %(channel)s provider — %(organization)s")
        % {"channel": Channel(channel).label, "organization": organization.name},
        organization,
        channel,
        migration,
        step,
    )
    context.update(
        {
            "current": current,
            "current_card": card(current) if current else None,
            "here": _wizard_url(organization, channel),
            "action_urls": {
                action: reverse(f"provider_admin:wizard_{action}", args=[organization.slug, channel])
                for action in ("select", "configure", "test", "test_message", "back", "execute", "cancel")
            },
        }
    )
    if step == 1:
        context["options"], context["last_month"] = provider_options(channel, current, organization)
        others = [option["name"] for option in context["options"] if not option["is_current"]]
        context["preselected"] = others[0] if others else ""
    elif step == 2:
        provider_class = provider_class_or_none(migration.target_provider_name)
        editing = migration.target  # "Change configuration": edit what was entered
        context["target_provider"] = provider_class
        context["target_price"] = price_label(provider_class, editing)
        context["editing"] = editing
        context["config_form"] = config_form or ProviderSettingsForm(provider_class=provider_class, instance=editing)
        context["reusable"] = [
            card(row)
            for row in channel_integrations(organization=organization, channel=channel)
            if row.provider_name == migration.target_provider_name and not row.is_primary and row.pk != migration.target_id
        ]
    elif step in (3, 4):
        context["target_card"] = card(migration.target) if migration.target else None
        # A test result belongs to the integration it tested; another target starts untested.
        context["last_test"] = last_test_of(migration, migration.target_id)
        if context["last_test"] and context["last_test"]["outcome"] == "failed":
            context["test_problem"] = failed_test(migration.target, context["last_test"]["detail"])
    return render(request, "admin/providers/wizard.html", context)


@management_required
@require_GET
def migrate(request: HttpRequest, organization_slug: str, channel: str) -> HttpResponse:
    organization = organization_or_404(request, organization_slug)
    channel = channel_or_404(channel)
    migration = open_migration(organization=organization, channel=channel)
    if migration is not None and migration.state == State.EXECUTING:
        return redirect("provider_admin:migration", organization.slug, channel, migration.pk)
    return _render(request, organization, channel, migration)


def wizard_action(*, needs_migration: bool = True) -> Callable:
    """A wizard POST: find the organization and its open migration, run the action, and go back
    to the wizard with the service's refusal (if any) as a message."""

    def decorate(action: Callable) -> Callable:
        @management_required
        @require_POST
        @wraps(action)
        def view(request: HttpRequest, organization_slug: str, channel: str) -> HttpResponse:
            organization = organization_or_404(request, organization_slug)
            channel = channel_or_404(channel)
            migration = open_migration(organization=organization, channel=channel)
            if needs_migration and migration is None:
                messages.error(request, _("This migration is no longer open; start again."))
                return redirect(_wizard_url(organization, channel))
            try:
                return action(request, organization, channel, migration) or redirect(_wizard_url(organization, channel))
            except ServiceError as exc:
                messages.error(request, exc.message)
            except ValidationError as exc:
                for message in exc.messages:
                    messages.error(request, message)
            return redirect(_wizard_url(organization, channel))

        return view

    return decorate


@wizard_action(needs_migration=False)
def select(request, organization, channel, migration):
    provider_name = request.POST.get("provider_name", "")
    if migration is None:
        wizard.migration_start(organization=organization, channel=channel, provider_name=provider_name, actor=request.user)
    elif request.POST.get("migration_id") != str(migration.pk):
        # Someone else opened a migration of this channel after this page was shown.
        messages.error(request, wizard.concurrent_message(migration))
    else:
        wizard.migration_select_provider(migration=migration, provider_name=provider_name, actor=request.user)


@wizard_action()
def configure(request, organization, channel, migration):
    existing = request.POST.get("existing", "")
    if existing:
        wizard.migration_configure(migration=migration, actor=request.user, existing_integration_id=existing)
        return None
    provider_class = provider_class_or_none(migration.target_provider_name)
    editing = migration.target if migration.target_id and request.POST.get("editing") == str(migration.target_id) else None
    form = ProviderSettingsForm(request.POST, provider_class=provider_class, instance=editing)
    if form.is_valid():
        config, credentials = form.split()
        try:
            wizard.migration_configure(
                migration=migration,
                actor=request.user,
                existing_integration_id=editing.pk if editing else None,
                display_name=form.cleaned_data["display_name"],
                config=config,
                credentials=credentials,
            )
            return None
        except ValidationError as exc:
            form.attach_errors(exc)
    return _render(request, organization, channel, migration, config_form=form)


@wizard_action()
def test(request, organization, channel, migration):
    health = wizard.migration_test(migration=migration, actor=request.user)
    if health.ok and open_migration(organization=organization, channel=channel).state == State.TESTED:
        messages.success(request, _("Connection test passed (%(latency)s ms).") % {"latency": health.latency_ms})
    # A failure is told once, on the page: what happened and what to do (wording.failed_test).


@wizard_action()
def test_message(request, organization, channel, migration):
    message_id = wizard.migration_send_test_message(migration=migration, to=request.POST.get("to", ""), actor=request.user)
    messages.success(request, _("Test message sent (%(id)s).") % {"id": message_id})


@wizard_action()
def back(request, organization, channel, migration):
    wizard.migration_change_configuration(migration=migration, actor=request.user)


@wizard_action()
def execute(request, organization, channel, migration):
    wizard.migration_begin_execute(migration=migration, actor=request.user)
    return redirect("provider_admin:migration", organization.slug, channel, migration.pk)


@wizard_action()
def cancel(request, organization, channel, migration):
    cancelled = wizard.migration_cancel(migration=migration, actor=request.user)
    removed = cancelled.log[-1].get("removed", []) if cancelled.log else []
    messages.info(
        request,
        _("Migration cancelled; the primary did not change. Removed what it had set up: %(names)s.")
        % {"names": ", ".join(f"“{name}”" for name in removed)}
        if removed
        else _("Migration cancelled; nothing changed."),
    )
    return redirect("provider_admin:dashboard")


# ----- one migration: its progress, rollback and audit trail


@management_required
@require_GET
def migration_detail(request: HttpRequest, organization_slug: str, channel: str, migration_id) -> HttpResponse:
    organization = organization_or_404(request, organization_slug)
    migration = migration_or_404(organization, channel, migration_id)
    current = primary_integration(organization=organization, channel=channel)
    context = _migration_context(
        request,
        _("Migration of %(channel)s — %(organization)s")
        % {"channel": migration.get_channel_display(), "organization": organization.name},
        organization,
        channel,
        migration,
        wizard_step(migration),
    )
    context.update(
        {
            "progress_steps": execution_progress(migration),
            "current_card": card(current) if current else None,
            "rollback_available": execution.rollback_available(migration),
            "rollback_url": reverse("provider_admin:migration_rollback", args=[organization.slug, channel, migration.pk]),
            "audit_events": _audit_rows(migration),
            "status_url": reverse("provider_admin:migration_status", args=[organization.slug, channel, migration.pk]),
            "target_detail_url": reverse("provider_admin:integration", args=[migration.target_id])
            if migration.target_id
            else "",
        }
    )
    return render(request, "admin/providers/migration.html", context)


def _audit_rows(migration) -> list[dict]:
    """The migration's audit trail with each change in words (ids behind "Show ids")."""
    names = {str(row.pk): row.display_name for row in (migration.source, migration.target) if row is not None}
    rows, last_seen = [], {}
    for event in migration_audit_events(migration=migration):
        # An event that records only "after" is compared with the previous event of the same
        # target, so each row says what changed rather than repeating the whole state.
        before = event.before
        if before is None and event.target_id in last_seen:
            # Only what this event records: a key the previous one had extra is not "removed".
            before = {k: v for k, v in last_seen[event.target_id].items() if k in (event.after or {})}
        rows.append({"event": event, "change": audit_change(before, event.after, names=names), "raw": audit_raw(event)})
        if event.after:
            last_seen[event.target_id] = event.after
    return rows


@management_required
@require_POST
def rollback(request: HttpRequest, organization_slug: str, channel: str, migration_id) -> HttpResponse:
    organization = organization_or_404(request, organization_slug)
    migration = migration_or_404(organization, channel, migration_id)
    try:
        execution.migration_rollback(migration=migration, actor=request.user, reason=request.POST.get("reason", "").strip())
        messages.success(request, _("Rolled back: the previous provider is primary again."))
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("provider_admin:migration", organization.slug, channel, migration.pk)


@management_required
@require_GET
def migration_status(request: HttpRequest, organization_slug: str, channel: str, migration_id) -> JsonResponse:
    migration = migration_or_404(organization_or_404(request, organization_slug), channel, migration_id)
    return JsonResponse(migration_json(migration))
