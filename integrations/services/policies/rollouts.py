"""Gradual migration: move a channel's traffic to another integration in steps, guarded.

``start_rollout`` sets the channel's policy to a split — the primary keeps ``100 - share``, the
target gets ``share`` (the first step) — through the same audited, versioned policy write a person
uses. Every ``run_policy_jobs`` tick (beat) then looks at each running rollout, one transaction
each, the rollout row locked (``SKIP LOCKED``: two ticks never move one rollout):

* **breach** — the target is no longer active, its circuit breaker is open, its spend cap is
  reached, over this step it failed more than ``max_failure_rate`` of at least ``min_sample``
  attempts, or (with ``receipt_timeout_seconds``) more than that share of its messages judged had
  no delivery receipt within the timeout → **rolled back**: the
  policy goes back to primary-only (the target's share to 0), audited ``rollout.rolled_back``
  and notified;
* the primary changed under it (someone switched) → **cancelled**, policy restored;
* the step was held ``step_seconds`` without a breach → the next step; reaching **100** calls
  ``switch_primary`` (actor ``system:rollout``) and restores primary-only routing, now anchored
  on the target: **completed**.

A step with fewer than ``min_sample`` attempts advances on time alone (too few to judge). While a
rollout runs, nobody else may change the channel's policy (``set_policy`` refuses); a rollout
needs the channel in ``primary`` mode to start (rules by tag are kept throughout).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from audit import services as audit
from integrations.errors import NotFound, OperationRefused, SwitchRefused
from integrations.models import (
    ChannelPolicy,
    Organization,
    OrganizationIntegration,
    Rollout,
    SpendCap,
)
from integrations.selectors.channels import check_channel
from integrations.selectors.integrations import integration_for_org
from integrations.selectors.policies import (
    integration_attempt_stats,
    policy_get,
    receipt_stats,
    running_rollout,
)
from integrations.services import notifications
from integrations.services.policies.channel_policy import write_policy
from integrations.services.switching import lock_channel_rows, switch_primary

logger = logging.getLogger(__name__)

ROLLOUT_ACTOR = "system:rollout"
STARTED, ADVANCED, COMPLETED = "rollout.started", "rollout.advanced", "rollout.completed"
ROLLED_BACK, CANCELLED = "rollout.rolled_back", "rollout.cancelled"
MAX_STEPS = 10
STEP_SECONDS_RANGE = (10, 7 * 24 * 3600)


def _clean(steps: Any, step_seconds: Any, max_failure_rate: Any, min_sample: Any) -> None:
    if (not isinstance(steps, list | tuple) or not 1 <= len(steps) <= MAX_STEPS
            or any(isinstance(s, bool) or not isinstance(s, int) or not 1 <= s <= 100 for s in steps)
            or list(steps) != sorted(set(steps)) or steps[-1] != 100):
        raise ValidationError({"steps": [_("Steps are 1 to %(n)s whole percents, increasing, ending at 100.") % {"n": MAX_STEPS}]})
    low, high = STEP_SECONDS_RANGE
    if isinstance(step_seconds, bool) or not isinstance(step_seconds, int) or not low <= step_seconds <= high:
        raise ValidationError({"step_seconds": [_("Hold each step from %(low)s to %(high)s seconds.") % {"low": low, "high": high}]})
    if isinstance(max_failure_rate, bool) or not isinstance(max_failure_rate, int | float) or not 0 <= max_failure_rate <= 1:
        raise ValidationError({"max_failure_rate": [_("The failure rate is a fraction from 0 to 1.")]})
    if isinstance(min_sample, bool) or not isinstance(min_sample, int) or not 1 <= min_sample <= 100_000:
        raise ValidationError({"min_sample": [_("The minimum sample is from 1 to 100000 attempts.")]})


def _log(rollout: Rollout, event: str, now: datetime, **extra) -> None:
    rollout.log = [*rollout.log, {"at": now.isoformat(), "event": event, "share": rollout.share, **extra}]


def _apply_share(rollout: Rollout, share: int, *, reason: str) -> None:
    """The split that gives the target ``share`` percent and the primary the rest."""
    policy = policy_get(organization=rollout.organization, channel=rollout.channel)
    weights = {str(rollout.target_id): share}
    if share < 100:
        weights[str(rollout.source_id)] = 100 - share
    write_policy(organization=rollout.organization, channel=rollout.channel, mode=ChannelPolicy.Mode.SPLIT,
                 weights=weights, rules=policy.rules, failure_actions=policy.failure_actions, actor=ROLLOUT_ACTOR,
                 reason=reason)


def _restore_policy(rollout: Rollout, *, reason: str) -> None:
    policy = policy_get(organization=rollout.organization, channel=rollout.channel)
    write_policy(organization=rollout.organization, channel=rollout.channel, mode=ChannelPolicy.Mode.PRIMARY,
                 rules=policy.rules, failure_actions=policy.failure_actions, actor=ROLLOUT_ACTOR, reason=reason,
                 drop_unusable_rules=True)


def _already_running() -> OperationRefused:
    return OperationRefused(_("A rollout is already running on this channel."), code="rollout_running")


def start_rollout(*, organization: Organization, channel: str, integration_id: Any, steps: Any, step_seconds: Any,
                  max_failure_rate: Any, min_sample: Any = 20, receipt_timeout_seconds: Any = None, actor: Any,
                  reason: str = "") -> Rollout:
    """Start moving (organization, channel)'s traffic to ``integration_id`` in ``steps``. With
    ``receipt_timeout_seconds``, a message the target sent without a delivery receipt that long
    after counts against it like a failed attempt (receipt-aware guard)."""
    check_channel(channel)
    _clean(steps, step_seconds, max_failure_rate, min_sample)
    if receipt_timeout_seconds is not None and (
            isinstance(receipt_timeout_seconds, bool) or not isinstance(receipt_timeout_seconds, int)
            or not 1 <= receipt_timeout_seconds <= 86400):
        raise ValidationError({"receipt_timeout_seconds": [_("The receipt timeout is from 1 to 86400 seconds.")]})
    target = integration_for_org(organization=organization, integration_id=integration_id)
    if target.channel != channel:
        raise OperationRefused(_("%(name)s is not a %(channel)s integration.") % {"name": target.display_name, "channel": channel},
                               code="wrong_channel")
    now = timezone.now()
    try:
        with transaction.atomic():
            rows = {row.pk: row for row in lock_channel_rows(organization=organization, channel=channel)}
            target = rows[target.pk]
            source = next((row for row in rows.values() if row.is_primary), None)
            if source is None or source.pk == target.pk:
                raise OperationRefused(_("%(name)s is already primary (or the channel has none); nothing to roll out.")
                                       % {"name": target.display_name}, code="nothing_to_roll_out")
            problem = target.primary_refusal(now)
            if problem:
                raise OperationRefused(problem, code="target_unusable")
            if running_rollout(organization=organization, channel=channel) is not None:
                raise _already_running()
            policy = policy_get(organization=organization, channel=channel)
            if policy.mode != ChannelPolicy.Mode.PRIMARY:
                raise OperationRefused(_("The channel has a weighted split; set it back to primary mode before a rollout."),
                                       code="split_policy_set")
            rollout = Rollout.objects.create(
                organization=organization, channel=channel, target=target, source=source,
                target_name=target.display_name, steps=list(steps), step_seconds=step_seconds,
                max_failure_rate=float(max_failure_rate), min_sample=min_sample, step_started_at=now,
                receipt_timeout_seconds=receipt_timeout_seconds,
                prior_policy=policy.snapshot(),
                created_by=actor if getattr(actor, "pk", None) and not isinstance(actor, str) else None,
            )
            _log(rollout, "started", now)
            rollout.save(update_fields=["log"])
            audit.record(action=STARTED, actor=actor, organization=organization, target=rollout, after=rollout.snapshot(),
                         reason=reason)
            if steps[0] == 100:
                _complete(rollout, now)
            else:
                _apply_share(rollout, steps[0], reason=_("Rollout %(id)s: step 1, %(share)s%%") % {"id": rollout.pk, "share": steps[0]})
    except IntegrityError:  # the partial unique index: another rollout started meanwhile
        raise _already_running() from None
    return rollout


def _finish(rollout: Rollout, status: str, now: datetime, *, detail: str, action: str, actor: Any = ROLLOUT_ACTOR,
            reason: str = "") -> None:
    before = rollout.snapshot()
    rollout.status, rollout.detail, rollout.finished_at = status, detail, now
    _log(rollout, status, now, detail=detail)
    rollout.save(update_fields=["status", "detail", "finished_at", "log"])
    audit.record(action=action, actor=actor, organization=rollout.organization, target=rollout, before=before,
                 after=rollout.snapshot(), reason=reason or detail,
                 outcome="failure" if status == Rollout.Status.ROLLED_BACK else "success")


def _roll_back(rollout: Rollout, now: datetime, detail: str) -> None:
    _restore_policy(rollout, reason=_("Rollout %(id)s rolled back: %(detail)s") % {"id": rollout.pk, "detail": detail})
    _finish(rollout, Rollout.Status.ROLLED_BACK, now, detail=detail, action=ROLLED_BACK)
    notifications.notify(
        organization=rollout.organization, event=ROLLED_BACK,
        summary=format_lazy(gettext_lazy("The {channel} rollout to {name} was rolled back"),
                            channel=rollout.channel, name=rollout.target_name),
        data={"rollout": str(rollout.pk), "channel": rollout.channel, "target": str(rollout.target_id or ""),
              "detail": detail[:300]},
    )


def _complete(rollout: Rollout, now: datetime) -> None:
    try:
        switch_primary(organization=rollout.organization, channel=rollout.channel, target=rollout.target_id,
                       actor=ROLLOUT_ACTOR, reason=_("Rollout %(id)s reached 100%%.") % {"id": rollout.pk})
    except SwitchRefused as exc:
        _roll_back(rollout, now, exc.message)
        return
    rollout.step_index = len(rollout.steps) - 1
    _restore_policy(rollout, reason=_("Rollout %(id)s completed.") % {"id": rollout.pk})
    _finish(rollout, Rollout.Status.COMPLETED, now, detail=_("%(name)s is primary.") % {"name": rollout.target_name},
            action=COMPLETED)


def _tick(rollout: Rollout, now: datetime) -> None:
    rows = {row.pk: row for row in lock_channel_rows(organization=rollout.organization, channel=rollout.channel)}
    target, source = rows.get(rollout.target_id), rows.get(rollout.source_id)
    if source is None or not source.is_primary:
        _restore_policy(rollout, reason=_("Rollout %(id)s cancelled: the primary changed.") % {"id": rollout.pk})
        _finish(rollout, Rollout.Status.CANCELLED, now, detail=_("The primary changed while it ran."), action=CANCELLED)
        return
    if target is None or target.status != OrganizationIntegration.Status.ACTIVE:
        _roll_back(rollout, now, _("The target is no longer active."))
        return
    if target.breaker_is_open(now):
        _roll_back(rollout, now, _("The target's circuit breaker opened."))
        return
    if SpendCap.objects.filter(integration=target, reached=True).exists():
        _roll_back(rollout, now, _("The target reached its monthly budget."))
        return
    stats = integration_attempt_stats(organization=rollout.organization, channel=rollout.channel,
                                      integration_id=target.pk, since=rollout.step_started_at)
    if stats.attempts >= rollout.min_sample and stats.failure_rate > rollout.max_failure_rate:
        _roll_back(rollout, now, _("%(failures)s of %(attempts)s attempts failed at %(share)s%% (over %(max)s%%).") % {
            "failures": stats.failures, "attempts": stats.attempts, "share": rollout.share,
            "max": round(rollout.max_failure_rate * 100, 2)})
        return
    if rollout.receipt_timeout_seconds:
        receipts = receipt_stats(organization=rollout.organization, channel=rollout.channel, integration_id=target.pk,
                                 since=rollout.step_started_at, timeout_seconds=rollout.receipt_timeout_seconds, now=now)
        if receipts.judged >= rollout.min_sample and receipts.missing_rate > rollout.max_failure_rate:
            _roll_back(rollout, now, _("%(missing)s of %(judged)s messages had no delivery receipt within %(seconds)s s "
                                       "at %(share)s%% (over %(max)s%%).") % {
                "missing": receipts.missing, "judged": receipts.judged, "seconds": rollout.receipt_timeout_seconds,
                "share": rollout.share, "max": round(rollout.max_failure_rate * 100, 2)})
            return
    if (now - rollout.step_started_at).total_seconds() < rollout.step_seconds:
        return
    following = rollout.step_index + 1
    if rollout.steps[following] == 100:
        _complete(rollout, now)
        return
    before = rollout.snapshot()
    _log(rollout, "held", now, attempts=stats.attempts, failures=stats.failures)
    rollout.step_index, rollout.step_started_at = following, now
    _log(rollout, "advanced", now)
    rollout.save(update_fields=["step_index", "step_started_at", "log"])
    _apply_share(rollout, rollout.share, reason=_("Rollout %(id)s: step %(n)s, %(share)s%%") % {
        "id": rollout.pk, "n": following + 1, "share": rollout.share})
    audit.record(action=ADVANCED, actor=ROLLOUT_ACTOR, organization=rollout.organization, target=rollout, before=before,
                 after=rollout.snapshot())


def advance_rollouts(*, now: datetime | None = None, limit: int = 100) -> list[Rollout]:
    """One tick of every running rollout (at most ``limit``), each in its own transaction."""
    seen: list[Rollout] = []
    for _attempt in range(limit):
        with transaction.atomic():
            rollout = (
                Rollout.objects.select_for_update(skip_locked=True, of=("self",)).select_related("organization")
                .filter(status=Rollout.Status.RUNNING).exclude(pk__in=[r.pk for r in seen]).order_by("created_at", "id").first()
            )
            if rollout is None:
                break
            seen.append(rollout)
            try:
                with transaction.atomic():  # a savepoint: a bug in one rollout never stops the others
                    _tick(rollout, now or timezone.now())
            except Exception:
                logger.exception("Rollout %s could not be advanced; it is tried again next tick", rollout.pk)
                rollout.refresh_from_db()
    return seen


def cancel_rollout(*, organization: Organization, channel: str, rollout_id: Any, actor: Any, reason: str = "") -> Rollout:
    """Stop a running rollout: the policy goes back to primary-only, the primary is unchanged."""
    check_channel(channel)
    with transaction.atomic():
        rollout = (Rollout.objects.for_org(organization).select_for_update().select_related("organization")
                   .filter(channel=channel, pk=rollout_id).first())
        if rollout is None:
            raise NotFound(_("No such rollout."))
        if rollout.status != Rollout.Status.RUNNING:
            raise OperationRefused(_("This rollout is %(status)s; only a running one can be cancelled.")
                                   % {"status": rollout.status}, code="not_running")
        _restore_policy(rollout, reason=_("Rollout %(id)s cancelled.") % {"id": rollout.pk})
        _finish(rollout, Rollout.Status.CANCELLED, timezone.now(), detail=_("Cancelled."), action=CANCELLED,
                actor=actor, reason=reason)
    return rollout
