"""Switching the primary integration of an (organization, channel).

This is the only code that writes ``is_primary`` (``tests/integrations/test_house_rules.py`` walks
the source to keep it so). Everyone calls it: admin, API, management commands, automatic
failover, the migration wizard, and the rule that the first active integration of a channel
becomes its primary (``promote_if_first_active``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit import services as audit
from audit.models import AuditEvent
from integrations.errors import SwitchRefused
from integrations.models import Organization, OrganizationIntegration
from integrations.services import metrics
from integrations.services.routing import invalidate_route


@dataclass(frozen=True)
class SwitchResult:
    previous: OrganizationIntegration | None
    current: OrganizationIntegration
    switched: bool
    switched_at: datetime
    audit_event: AuditEvent | None


def lock_channel_rows(*, organization: Organization, channel: str) -> list[OrganizationIntegration]:
    """Lock every integration of the (organization, channel), in id order.

    The stable order is what keeps two concurrent switches from deadlocking: each waits for
    the other's first lock instead of holding one the other needs. Call inside a transaction.
    """
    return list(
        OrganizationIntegration.objects.select_for_update()
        .filter(organization=organization, channel=channel)
        .order_by("id")
    )


def _target_id(target: Any) -> UUID:
    if isinstance(target, OrganizationIntegration):
        return target.pk
    try:
        return target if isinstance(target, UUID) else UUID(str(target))
    except (TypeError, ValueError, AttributeError):
        raise SwitchRefused(_("'%(target)s' is not an integration id.") % {"target": target}, code="unknown_integration") from None


def refusal_reason(integration: OrganizationIntegration, *, now: datetime | None = None) -> str | None:
    """Why this integration cannot become primary, or None when it can."""
    return integration.primary_refusal(now)


def switch_primary(
    *,
    organization: Organization,
    channel: str,
    target: OrganizationIntegration | UUID | str,
    actor: Any,
    reason: str = "",
    action: str = "provider.switched",
) -> SwitchResult:
    """Make ``target`` the primary of (organization, channel).

    In one transaction: lock the channel's rows in id order, check the target belongs to this
    organization and channel and is usable, clear the old primary, set the new one (that order
    satisfies the partial unique index), and write the audit event. The route version is bumped
    when the transaction commits, so every worker routes to the new primary from then on. Any
    failure rolls everything back: the old primary stays primary.

    A target that is already primary is a no-op that still answers success (``switched`` False,
    no audit event). Raises ``SwitchRefused`` for anything else it will not do.
    """
    target_id = _target_id(target)
    now = timezone.now()
    with transaction.atomic():
        rows = lock_channel_rows(organization=organization, channel=channel)
        by_id = {row.pk: row for row in rows}
        new = by_id.get(target_id)
        if new is None:
            raise SwitchRefused(
                _("Integration %(id)s is not a %(channel)s integration of %(organization)s.")
                % {"id": target_id, "channel": channel, "organization": organization.name},
                code="unknown_integration",
            )
        previous = next((row for row in rows if row.is_primary), None)
        if previous is not None and previous.pk == new.pk:
            return SwitchResult(previous=previous, current=new, switched=False, switched_at=now, audit_event=None)
        problem = refusal_reason(new, now=now)
        if problem:
            raise SwitchRefused(problem, code="target_unusable")

        if previous is not None:
            OrganizationIntegration.objects.filter(pk=previous.pk).update(is_primary=False, updated_at=now)
            previous.is_primary = False
        OrganizationIntegration.objects.filter(pk=new.pk).update(is_primary=True, updated_at=now)
        new.is_primary = True

        event = audit.record(
            action=action,
            actor=actor,
            organization=organization,
            target=new,
            before={"primary": previous.snapshot() if previous else None},
            after={"primary": new.snapshot()},
            reason=reason,
        )
        transaction.on_commit(lambda: invalidate_route(organization_id=organization.pk, channel=channel))
        transaction.on_commit(lambda: metrics.primary_switched(channel=channel, action=action, organization=organization))
    return SwitchResult(previous=previous, current=new, switched=True, switched_at=now, audit_event=event)


FIRST_ACTIVE_REASON = "The first active integration of the channel becomes its primary."
# Audited apart from an admin's switch, as automatic failover is (``provider.failover``).
PROMOTED_ACTION = "provider.promoted"


def promote_if_first_active(*, integration: OrganizationIntegration, actor: Any) -> SwitchResult | None:
    """Make ``integration`` the primary when it is active and its channel has no primary yet.

    Call it inside the transaction that activated the integration. It is an ordinary switch
    (locked, audited as ``provider.promoted``); an integration that cannot be primary (its
    breaker is open) is simply left a fallback.
    """
    if integration.status != OrganizationIntegration.Status.ACTIVE or integration.is_primary:
        return None
    rows = lock_channel_rows(organization=integration.organization, channel=integration.channel)
    if any(row.is_primary for row in rows):
        return None
    try:
        result = switch_primary(
            organization=integration.organization,
            channel=integration.channel,
            target=integration.pk,
            actor=actor,
            reason=FIRST_ACTIVE_REASON,
            action=PROMOTED_ACTION,
        )
    except SwitchRefused:
        return None
    integration.is_primary = True
    return result
