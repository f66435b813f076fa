"""Creating, changing, ordering and removing an organization's integrations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from audit import services as audit
from integrations.errors import OperationRefused
from integrations.models import Organization, OrganizationIntegration
from integrations.services.routing import invalidate_route
from integrations.services.switching import (
    lock_channel_rows,
    promote_if_first_active,
    refusal_reason,
    switch_primary,
)
from providers.config import is_masked_hint
from providers.registry import UnknownProvider, get_provider_class

Status = OrganizationIntegration.Status
# The error code of a destination change that came without the secrets (API: 400 with this code).
CREDENTIALS_REQUIRED = "credentials_required"


def _provider_class(provider_name: str):
    try:
        return get_provider_class(provider_name)
    except UnknownProvider as exc:
        raise ValidationError({"provider_name": [str(exc)]}) from None


def _split_secrets(provider_class, credentials: Mapping[str, Any] | None) -> dict[str, str]:
    """Keep only the provider's declared secret fields, dropping blanks and masked hints sent
    back unchanged (``••••4321``): on every write path, both mean "keep the stored value"."""
    secret_names = set(provider_class.secret_field_names())
    unknown = sorted(set(credentials or {}) - secret_names)
    if unknown:
        raise ValidationError(
            {"credentials": [_("Unknown credential field(s) for %(provider)s: %(fields)s.")
                             % {"provider": provider_class.display_name, "fields": ", ".join(unknown)}]}
        )
    return {k: str(v) for k, v in (credentials or {}).items() if v not in (None, "") and not is_masked_hint(v)}


def _destination(config: Mapping[str, Any] | None, config_field) -> str:
    """Where a destination field sends requests: its value, else its default (the official host)."""
    value = (config or {}).get(config_field.name)
    if value in (None, ""):
        value = config_field.default
    return "" if value in (None, "") else str(value).strip().rstrip("/")


def _require_secrets_for_new_destination(provider_class, *, before: Mapping[str, Any], after: Mapping[str, Any],
                                         stored: Mapping[str, Any], sent: Mapping[str, str]) -> None:
    """A change to a field that decides where requests go (a base URL) must come with every
    secret again (each one stored or required), in the same request: otherwise whoever can edit
    the settings could send the stored credentials to an address of their choosing."""
    changed = [config_field.label for config_field in provider_class.config_fields
               if config_field.destination and _destination(before, config_field) != _destination(after, config_field)]
    if not changed:
        return
    missing = [
        config_field for config_field in provider_class.config_fields
        if config_field.secret and (config_field.required or stored.get(config_field.name)) and not sent.get(config_field.name)
    ]
    if missing:
        message = _("Changing %(fields)s sends the credentials somewhere else: enter %(secret)s again in the same request.")
        raise ValidationError({
            config_field.name: [ValidationError(
                message % {"fields": ", ".join(changed), "secret": config_field.label},
                code=CREDENTIALS_REQUIRED,
            )]
            for config_field in missing
        })


MAX_PRIORITY = 1_000_000


def _clean_priority(priority: Any) -> int:
    """A fallback priority the column holds (the API and the admin bound it the same way)."""
    try:
        value = int(priority)
    except (TypeError, ValueError, OverflowError):
        value = None
    if value is None or not -MAX_PRIORITY <= value <= MAX_PRIORITY:
        raise ValidationError({"priority": [_("Priority must be a whole number from %(low)s to %(high)s.")
                                            % {"low": -MAX_PRIORITY, "high": MAX_PRIORITY}]})
    return value


def _after_commit_invalidate(integration: OrganizationIntegration) -> None:
    organization_id, channel = integration.organization_id, integration.channel
    transaction.on_commit(lambda: invalidate_route(organization_id=organization_id, channel=channel))


def integration_create(
    *,
    organization: Organization,
    provider_name: str,
    display_name: str,
    actor: Any,
    channel: str | None = None,
    config: Mapping[str, Any] | None = None,
    credentials: Mapping[str, Any] | None = None,
    priority: int | None = None,
    status: str = Status.PENDING,
) -> OrganizationIntegration:
    provider_class = _provider_class(provider_name)
    if channel is not None and channel != provider_class.channel:
        raise ValidationError(
            {"provider_name": [_("%(provider)s is a %(channel)s provider, not %(wanted)s.")
                               % {"provider": provider_class.display_name, "channel": provider_class.channel, "wanted": channel}]}
        )
    channel = provider_class.channel.value
    config = dict(config or {})
    secrets = _split_secrets(provider_class, credentials)
    provider_class.validate_config(config, secrets)
    if status not in Status.values:
        raise ValidationError({"status": [_("Unknown status '%(status)s'.") % {"status": status}]})

    with transaction.atomic():
        rows = lock_channel_rows(organization=organization, channel=channel)
        if any(row.display_name == display_name for row in rows):
            raise ValidationError({"display_name": [_("'%(name)s' is already used for another %(channel)s integration.")
                                                    % {"name": display_name, "channel": channel}]})
        if priority is None:
            priority = max(min((row.priority for row in rows), default=100) - 10, -MAX_PRIORITY) if rows else 100
        else:
            priority = _clean_priority(priority)
        integration = OrganizationIntegration(
            organization=organization,
            channel=channel,
            provider_name=provider_name,
            display_name=display_name,
            config=config,
            credentials=secrets,
            priority=priority,
            status=status,
            created_by=actor if getattr(actor, "pk", None) else None,
        )
        try:
            with transaction.atomic():  # a savepoint: a concurrent create may win the name or the primary
                integration.save()
                promote_if_first_active(integration=integration, actor=actor)
        except IntegrityError as exc:
            # The locks above cover the channel's existing rows; two creates on a channel with
            # none (or one new name twice) meet only in the database's constraints.
            if "display_name" in str(exc):
                raise ValidationError({"display_name": [_("'%(name)s' is already used for another %(channel)s integration.")
                                                        % {"name": display_name, "channel": channel}]}) from None
            raise OperationRefused(_("Another change to this channel's integrations was made at the same time; try again."),
                                   code="conflict") from None
        audit.record(
            action="integration.created",
            actor=actor,
            organization=organization,
            target=integration,
            after=integration.snapshot(),
        )
        _after_commit_invalidate(integration)
    return integration


def integration_update(
    *,
    integration: OrganizationIntegration,
    actor: Any,
    display_name: str | None = None,
    config: Mapping[str, Any] | None = None,
    credentials: Mapping[str, Any] | None = None,
    status: str | None = None,
    priority: int | None = None,
    reason: str = "",
) -> OrganizationIntegration:
    """Change an integration. Credential fields left blank keep their stored value.

    Taking the primary out of service is refused; switch first (or use
    ``integration_deactivate(promote_next=True)``).
    """
    provider_class = integration.provider_class()
    with transaction.atomic():
        rows = lock_channel_rows(organization=integration.organization, channel=integration.channel)
        current = next((row for row in rows if row.pk == integration.pk), None)
        if current is None:
            raise OperationRefused(_("This integration no longer exists."), code="not_found")
        before = current.snapshot()

        if display_name is not None and display_name != current.display_name:
            if any(row.display_name == display_name for row in rows if row.pk != current.pk):
                raise ValidationError({"display_name": [_("'%(name)s' is already used for another %(channel)s integration.")
                                                        % {"name": display_name, "channel": current.channel}]})
            current.display_name = display_name
        sent_secrets = _split_secrets(provider_class, credentials)
        if config is not None:
            _require_secrets_for_new_destination(provider_class, before=current.config or {}, after=config,
                                                 stored=current.credentials or {}, sent=sent_secrets)
            current.config = dict(config)
        if credentials is not None:
            merged = dict(current.credentials or {})
            merged.update(sent_secrets)
            current.credentials = merged
        if config is not None or credentials is not None:
            provider_class.validate_config(current.config, current.credentials)
        if priority is not None:
            current.priority = _clean_priority(priority)
        if status is not None and status != current.status:
            if status not in Status.values:
                raise ValidationError({"status": [_("Unknown status '%(status)s'.") % {"status": status}]})
            if current.is_primary and status != Status.ACTIVE:
                raise OperationRefused(
                    _("'%(name)s' is the primary %(channel)s integration; switch the primary to another "
                      "integration before changing its status.") % {"name": current.display_name, "channel": current.channel},
                    code="is_primary",
                )
            current.status = status

        try:
            current.save()
        except IntegrityError as exc:  # the database's own guard (a primary must stay active)
            raise OperationRefused(_("The change breaks an integrity rule: %(rule)s.") % {"rule": exc.__class__.__name__}) from None
        promote_if_first_active(integration=current, actor=actor)
        after = current.snapshot()
        if before != after or sent_secrets:
            if sent_secrets:
                after["credentials_replaced"] = sorted(sent_secrets)
            audit.record(
                action="integration.updated",
                actor=actor,
                organization=current.organization,
                target=current,
                before=before,
                after=after,
                reason=reason,
            )
            _after_commit_invalidate(current)
    integration.refresh_from_db()
    return integration


def _promote_next(*, integration: OrganizationIntegration, rows, actor: Any, reason: str) -> None:
    candidates = sorted(
        (row for row in rows if row.pk != integration.pk and refusal_reason(row) is None),
        key=lambda row: (-row.priority, row.created_at),
    )
    if not candidates:
        raise OperationRefused(
            _("'%(name)s' is the primary and no other active %(channel)s integration can take over.")
            % {"name": integration.display_name, "channel": integration.channel},
            code="no_fallback",
        )
    switch_primary(
        organization=integration.organization,
        channel=integration.channel,
        target=candidates[0],
        actor=actor,
        reason=reason or f"'{integration.display_name}' taken out of service",
    )


def _refuse_primary(integration: OrganizationIntegration, verb: str) -> None:
    raise OperationRefused(
        _("'%(name)s' is the primary %(channel)s integration; switch the primary to another integration "
          "first, or %(verb)s it with promotion of the next fallback.")
        % {"name": integration.display_name, "channel": integration.channel, "verb": verb},
        code="is_primary",
    )


def integration_deactivate(
    *, integration: OrganizationIntegration, actor: Any, promote_next: bool = False, reason: str = ""
) -> OrganizationIntegration:
    with transaction.atomic():
        rows = lock_channel_rows(organization=integration.organization, channel=integration.channel)
        current = next((row for row in rows if row.pk == integration.pk), None)
        if current is None:
            raise OperationRefused(_("This integration no longer exists."), code="not_found")
        if current.is_primary:
            if not promote_next:
                _refuse_primary(current, _("deactivate"))
            _promote_next(integration=current, rows=rows, actor=actor, reason=reason)
        return integration_update(integration=current, actor=actor, status=Status.INACTIVE, reason=reason)


def integration_delete(
    *, integration: OrganizationIntegration, actor: Any, promote_next: bool = False, reason: str = ""
) -> None:
    with transaction.atomic():
        rows = lock_channel_rows(organization=integration.organization, channel=integration.channel)
        current = next((row for row in rows if row.pk == integration.pk), None)
        if current is None:
            return
        if current.is_primary:
            if not promote_next:
                _refuse_primary(current, _("delete"))
            _promote_next(integration=current, rows=rows, actor=actor, reason=reason)
        snapshot = current.snapshot()
        audit.record(
            action="integration.deleted",
            actor=actor,
            organization=current.organization,
            target=current,
            before=snapshot,
            reason=reason,
        )
        _after_commit_invalidate(current)
        current.delete()


def integrations_reorder(
    *, organization: Organization, channel: str, ordered_ids: Sequence[Any], actor: Any
) -> list[OrganizationIntegration]:
    """Set fallback priorities from an ordered list of ids (first = highest priority).

    The list must name every integration of the channel exactly once. The primary keeps its
    role; its priority only matters once it stops being primary.
    """
    with transaction.atomic():
        rows = lock_channel_rows(organization=organization, channel=channel)
        by_id = {str(row.pk): row for row in rows}
        wanted = [str(i) for i in ordered_ids]
        if len(set(wanted)) != len(wanted):
            raise ValidationError({"ordered_ids": [_("An integration is listed more than once.")]})
        if set(wanted) != set(by_id):
            unknown = sorted(set(wanted) - set(by_id))
            missing = sorted(set(by_id) - set(wanted))
            problems = []
            if unknown:
                problems.append(f"not {channel} integrations of {organization.name}: {', '.join(unknown)}")
            if missing:
                problems.append(f"missing: {', '.join(missing)}")
            raise ValidationError({"ordered_ids": ["List every integration of the channel once (" + "; ".join(problems) + ")."]})
        before = {str(row.pk): row.priority for row in rows}
        step = 10
        ordered = []
        for position, integration_id in enumerate(wanted):
            row = by_id[integration_id]
            row.priority = (len(wanted) - position) * step
            ordered.append(row)
        OrganizationIntegration.objects.bulk_update(ordered, ["priority"])
        after = {str(row.pk): row.priority for row in ordered}
        if before != after:
            audit.record(
                action="integration.reordered",
                actor=actor,
                organization=organization,
                before={"priorities": before},
                after={"priorities": after},
                reason=f"{channel} fallback order",
            )
            transaction.on_commit(lambda: invalidate_route(organization_id=organization.pk, channel=channel))
    return ordered
