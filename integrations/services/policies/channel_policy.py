"""Changing a channel's routing policy: validated, locked, audited, and seen by every worker.

``set_policy`` locks the channel's integration rows in the order ``switch_primary`` does, so a
policy change and a switch serialize, checks every named integration is an *active* integration
of this organization and channel, bumps the policy's version, writes the audit event (who,
before, after, reason) in the same transaction and bumps the route version on commit.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from audit import services as audit
from integrations.errors import NotFound, OperationRefused
from integrations.models import ChannelPolicy, Organization, OrganizationIntegration, Rollout
from integrations.selectors.channels import check_channel
from integrations.services.routing import invalidate_route
from integrations.services.switching import lock_channel_rows

POLICY_CHANGED = "policy.changed"
MAX_RULES = 20
MAX_TAG_LENGTH = 64
TAG_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")


def _check_tag(tag: Any, *, field: str) -> str:
    if not isinstance(tag, str) or len(tag) > MAX_TAG_LENGTH or not TAG_PATTERN.match(tag):
        raise ValidationError({field: [_("A tag is a word of letters, digits, '_', '.', ':' or '-', at most %(n)s characters.") % {"n": MAX_TAG_LENGTH}]})
    return tag


def clean_tags(tags: Any) -> list[str]:
    """Message tags as stored: distinct, order kept. Raises ``ValidationError``."""
    if tags in (None, ""):
        return []
    if not isinstance(tags, list | tuple) or len(tags) > MAX_RULES:
        raise ValidationError({"tags": [_("Tags are a list of at most %(n)s words.") % {"n": MAX_RULES}]})
    cleaned: list[str] = []
    for tag in tags:
        _check_tag(tag, field="tags")
        if tag not in cleaned:
            cleaned.append(tag)
    return cleaned


def _named_ids(*, mode: str, weights: Any, rules: Any) -> list[str]:
    named = list(weights) if mode == ChannelPolicy.Mode.SPLIT and isinstance(weights, dict) else []
    if isinstance(rules, list):
        named += [str(rule["integration_id"]) for rule in rules if isinstance(rule, dict) and "integration_id" in rule]
    return named


def _active_ids(rows: list[OrganizationIntegration], named: list[str]) -> dict[str, OrganizationIntegration]:
    """The channel's active rows by id. An id that is not an integration of this organization
    and channel at all is ``NotFound``, as anywhere else: another tenant's id is not confirmed."""
    known = {str(row.pk) for row in rows}
    if any(str(ref) not in known for ref in named):
        raise NotFound(_("No such integration."))
    return {str(row.pk): row for row in rows if row.status == OrganizationIntegration.Status.ACTIVE}


def _clean_weights(weights: Any, active: dict[str, OrganizationIntegration]) -> dict[str, int]:
    if not isinstance(weights, dict) or not weights:
        raise ValidationError({"weights": [_("A split needs weights: integration id → percent.")]})
    cleaned: dict[str, int] = {}
    for key, value in weights.items():
        if str(key) not in active:
            raise ValidationError({"weights": [_("%(id)s is not an active integration of this channel.") % {"id": str(key)[:64]}]})
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
            raise ValidationError({"weights": [_("A weight is a whole percent from 0 to 100.")]})
        cleaned[str(key)] = value
    if sum(cleaned.values()) != 100:
        raise ValidationError({"weights": [_("The weights must add up to 100 (they add up to %(sum)s).") % {"sum": sum(cleaned.values())}]})
    return dict(sorted(cleaned.items()))


def _clean_rules(rules: Any, active: dict[str, OrganizationIntegration]) -> list[dict[str, str]]:
    if rules in (None, ""):
        return []
    if not isinstance(rules, list) or len(rules) > MAX_RULES:
        raise ValidationError({"rules": [_("Rules are a list of at most %(n)s entries.") % {"n": MAX_RULES}]})
    cleaned = []
    for rule in rules:
        if not isinstance(rule, dict) or set(rule) != {"tag", "integration_id"}:
            raise ValidationError({"rules": [_("A rule is {\"tag\": …, \"integration_id\": …}.")]})
        tag = _check_tag(rule["tag"], field="rules")
        if str(rule["integration_id"]) not in active:
            raise ValidationError({"rules": [_("%(id)s is not an active integration of this channel.") % {"id": str(rule["integration_id"])[:64]}]})
        cleaned.append({"tag": tag, "integration_id": str(rule["integration_id"])})
    return cleaned


FAILURE_ACTIONS = ("retry", "fail_over", "stop")
MAX_FAILURE_ACTIONS = 50


def _clean_failure_actions(actions: Any) -> dict[str, str]:
    if actions in (None, ""):
        return {}
    if not isinstance(actions, dict) or len(actions) > MAX_FAILURE_ACTIONS:
        raise ValidationError({"failure_actions": [_("Failure actions map at most %(n)s error codes to an action.") % {"n": MAX_FAILURE_ACTIONS}]})
    cleaned = {}
    for code, action in actions.items():
        if not isinstance(code, str) or not 1 <= len(code) <= 64 or action not in FAILURE_ACTIONS:
            raise ValidationError({"failure_actions": [_("Each error code (at most 64 characters) maps to one of: %(actions)s.")
                                                       % {"actions": ", ".join(FAILURE_ACTIONS)}]})
        cleaned[code] = action
    return dict(sorted(cleaned.items()))


def set_policy(
    *,
    organization: Organization,
    channel: str,
    mode: str,
    weights: Any = None,
    rules: Any = None,
    failure_actions: Any = None,
    actor: Any,
    reason: str = "",
) -> ChannelPolicy:
    """Set (organization, channel)'s policy. ``primary`` mode drops the weights; rules and
    ``failure_actions`` (provider error code → retry / fail_over / stop) apply in both modes. Raises ``ValidationError`` for a bad policy, ``OperationRefused`` while a rollout
    runs on the channel (it owns the weights until it ends or is cancelled)."""
    check_channel(channel)
    if Rollout.objects.for_org(organization).filter(channel=channel, status=Rollout.Status.RUNNING).exists():
        raise OperationRefused(_("A rollout is moving this channel's traffic; cancel it before changing the policy."),
                               code="rollout_running")
    return write_policy(organization=organization, channel=channel, mode=mode, weights=weights, rules=rules,
                        failure_actions=failure_actions, actor=actor, reason=reason)


def write_policy(
    *,
    organization: Organization,
    channel: str,
    mode: str,
    weights: Any = None,
    rules: Any = None,
    failure_actions: Any = None,
    actor: Any,
    reason: str = "",
    drop_unusable_rules: bool = False,
) -> ChannelPolicy:
    """``set_policy`` without the rollout check: what a rollout uses to move its own shares.
    ``drop_unusable_rules`` drops rules naming an integration that is no longer active instead of
    refusing (a rollout must always be able to restore the policy)."""
    if mode not in ChannelPolicy.Mode.values:
        raise ValidationError({"mode": [_("Mode is one of: %(modes)s.") % {"modes": ", ".join(ChannelPolicy.Mode.values)}]})
    with transaction.atomic():
        rows = lock_channel_rows(organization=organization, channel=channel)
        if drop_unusable_rules:
            usable = {str(row.pk) for row in rows if row.status == OrganizationIntegration.Status.ACTIVE}
            rules = [rule for rule in rules or () if str(rule.get("integration_id")) in usable]
        active = _active_ids(rows, _named_ids(mode=mode, weights=weights, rules=rules))
        cleaned_weights = _clean_weights(weights, active) if mode == ChannelPolicy.Mode.SPLIT else {}
        cleaned_rules = _clean_rules(rules, active)
        cleaned_actions = _clean_failure_actions(failure_actions)
        policy, created = ChannelPolicy.objects.select_for_update().get_or_create(
            organization=organization, channel=channel, defaults={"version": 0}
        )
        before = None if created else policy.snapshot()
        policy.mode, policy.weights, policy.rules = mode, cleaned_weights, cleaned_rules
        policy.failure_actions = cleaned_actions
        policy.version += 1
        policy.updated_by = actor if getattr(actor, "pk", None) and not isinstance(actor, str) else None
        policy.save()
        audit.record(
            action=POLICY_CHANGED, actor=actor, organization=organization, target=policy,
            before=before, after=policy.snapshot(), reason=reason,
        )
        transaction.on_commit(lambda: invalidate_route(organization_id=organization.pk, channel=channel))
    return policy
