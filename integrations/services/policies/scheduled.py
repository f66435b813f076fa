"""Scheduled switches: the primary changes at a given time, exactly once, through ``switch_primary``.

``run_due_switches`` (beat, ``integrations.tasks.run_policy_jobs``) takes one due ``pending`` row
at a time with ``SELECT … FOR UPDATE SKIP LOCKED`` — a channel's rows in time order, never two of
one channel at once — and, in the same transaction, calls
``switch_primary`` and moves the row to ``done`` or ``refused``. Two beats (or a beat and a
retried task) can never both run it: the second finds it locked or no longer pending. A worker
dying mid-way rolls back the switch and the status together, and the next run takes it again.

Refused, with the reason kept on the row, audited and notified: a target that is not usable at
that time (inactive, breaker open — ``switch_primary``'s own refusals), one that was deleted, and
a switch whose time passed more than ``SCHEDULED_SWITCH_MAX_LATENESS`` seconds ago (beat was
down): switching hours late is not what anyone scheduled.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from audit import services as audit
from audit.services import actor_label
from integrations.errors import NotFound, OperationRefused, SwitchRefused
from integrations.models import Organization, ScheduledSwitch, SpendCap
from integrations.selectors.channels import check_channel
from integrations.selectors.integrations import integration_for_org
from integrations.services import notifications
from integrations.services.switching import switch_primary

logger = logging.getLogger(__name__)

SCHEDULED = "switch.scheduled"
CANCELLED = "switch.schedule_cancelled"
REFUSED = "switch.schedule_refused"
SCHEDULED_ACTOR = "system:scheduled-switch"
MAX_AHEAD = timedelta(days=366)


def schedule_switch(*, organization: Organization, channel: str, integration_id: Any, at: datetime,
                    reason: str = "", actor: Any) -> ScheduledSwitch:
    """Schedule a switch of (organization, channel)'s primary to ``integration_id`` at ``at``."""
    check_channel(channel)
    target = integration_for_org(organization=organization, integration_id=integration_id)
    if target.channel != channel:
        raise OperationRefused(_("%(name)s is not a %(channel)s integration.") % {"name": target.display_name, "channel": channel},
                               code="wrong_channel")
    now = timezone.now()
    if at <= now:
        raise OperationRefused(_("The time of a scheduled switch must be in the future."), code="time_in_the_past")
    if at > now + MAX_AHEAD:
        raise OperationRefused(_("A switch can be scheduled at most a year ahead."), code="time_too_far")
    with transaction.atomic():
        row = ScheduledSwitch.objects.create(
            organization=organization, channel=channel, target=target, target_name=target.display_name,
            at=at, reason=reason, created_by=actor if getattr(actor, "pk", None) and not isinstance(actor, str) else None,
        )
        audit.record(action=SCHEDULED, actor=actor, organization=organization, target=row, after=row.snapshot(),
                     reason=reason)
    return row


def cancel_scheduled_switch(*, organization: Organization, channel: str, switch_id: Any, actor: Any,
                            reason: str = "") -> ScheduledSwitch:
    """Cancel a pending scheduled switch. One already run or cancelled is refused."""
    check_channel(channel)
    with transaction.atomic():
        row = (ScheduledSwitch.objects.for_org(organization).select_for_update()
               .filter(channel=channel, pk=switch_id).first())
        if row is None:
            raise NotFound(_("No such scheduled switch."))
        if row.status != ScheduledSwitch.Status.PENDING:
            raise OperationRefused(_("This scheduled switch is %(status)s; only a pending one can be cancelled.")
                                   % {"status": row.status}, code="not_pending")
        before = row.snapshot()
        row.status, row.finished_at = ScheduledSwitch.Status.CANCELLED, timezone.now()
        row.detail = _("Cancelled by %(actor)s.") % {"actor": actor_label(actor)}
        row.save(update_fields=["status", "finished_at", "detail"])
        audit.record(action=CANCELLED, actor=actor, organization=organization, target=row, before=before,
                     after=row.snapshot(), reason=reason)
    return row


def _refuse(row: ScheduledSwitch, detail: str, now: datetime) -> None:
    before = row.snapshot()
    row.status, row.detail, row.finished_at = ScheduledSwitch.Status.REFUSED, detail, now
    row.save(update_fields=["status", "detail", "finished_at"])
    audit.record(action=REFUSED, actor=SCHEDULED_ACTOR, organization=row.organization, target=row, before=before,
                 after=row.snapshot(), outcome="failure", reason=row.reason)
    notifications.notify(
        organization=row.organization, event=REFUSED,
        summary=format_lazy(gettext_lazy("The scheduled {channel} switch to {name} was refused"),
                            channel=row.channel, name=row.target_name),
        data={"scheduled_switch": str(row.pk), "channel": row.channel, "target": str(row.target_id or ""), "detail": detail[:300]},
    )


def _execute(row: ScheduledSwitch, now: datetime) -> None:
    late = (now - row.at).total_seconds()
    if late > settings.SCHEDULED_SWITCH_MAX_LATENESS:
        _refuse(row, _("Its time passed %(minutes)s minutes ago (the scheduler was not running); "
                       "schedule it again.") % {"minutes": int(late // 60)}, now)
        return
    if row.target is None:
        _refuse(row, _("The target integration was deleted."), now)
        return
    if SpendCap.objects.filter(integration=row.target, reached=True).exists():
        _refuse(row, _("'%(name)s' reached its monthly budget.") % {"name": row.target_name}, now)
        return
    try:
        result = switch_primary(
            organization=row.organization, channel=row.channel, target=row.target, actor=SCHEDULED_ACTOR,
            reason=_("Scheduled switch %(id)s: %(reason)s") % {"id": row.pk, "reason": row.reason or "-"},
        )
    except SwitchRefused as exc:
        _refuse(row, exc.message, now)
        return
    row.status, row.finished_at = ScheduledSwitch.Status.DONE, now
    row.detail = (_("Switched to %(name)s.") if result.switched else _("%(name)s was already primary."))\
        % {"name": row.target_name}
    row.save(update_fields=["status", "detail", "finished_at"])


def _run_one(now: datetime) -> ScheduledSwitch | None:
    with transaction.atomic():
        # A channel's switches run in time order: a row waits while an earlier one of its channel
        # is still pending (perhaps being run, under lock, by another runner right now).
        earlier_pending = ScheduledSwitch.objects.filter(
            organization=OuterRef("organization"), channel=OuterRef("channel"), status=ScheduledSwitch.Status.PENDING,
        ).filter(Q(at__lt=OuterRef("at")) | Q(at=OuterRef("at"), id__lt=OuterRef("id")))
        row = (
            ScheduledSwitch.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("organization", "target")
            .filter(status=ScheduledSwitch.Status.PENDING, at__lte=now)
            .exclude(Exists(earlier_pending))
            .order_by("at", "id")
            .first()
        )
        if row is None:
            return None
        try:
            with transaction.atomic():  # a savepoint: a bug in one switch refuses it, never the queue
                _execute(row, now)
        except Exception as exc:
            logger.exception("Scheduled switch %s could not run", row.pk)
            _refuse(row, _("It could not run (internal error: %(error)s); schedule it again.")
                    % {"error": type(exc).__name__}, now)
    return row


def run_due_switches(*, now: datetime | None = None, limit: int = 100) -> list[ScheduledSwitch]:
    """Run every due scheduled switch (at most ``limit`` per call), each in its own transaction."""
    done: list[ScheduledSwitch] = []
    for _attempt in range(limit):
        row = _run_one(now or timezone.now())
        if row is None:
            break
        done.append(row)
    return done
