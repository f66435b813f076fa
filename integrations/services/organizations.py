"""Organization settings that need more than a field write: the notification signing secret."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from audit import services as audit
from integrations.models import Organization
from integrations.models.organizations import uuid_shaped
from providers.egress import egress_policy, url_problem

AUDITED_FIELDS = ("name", "slug", "auto_failover", "auto_failback", "notification_url")


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


def organization_problems(*, slug: str, notification_url: str) -> dict[str, list[str]]:
    """Why these settings cannot be saved, by field: a slug that spells a UUID could be taken
    for another organization's id; a notification URL goes where the egress guard allows."""
    problems: dict[str, list[str]] = {}
    if slug and uuid_shaped(slug) is not None:
        problems["slug"] = [_("A slug cannot have the shape of an id (a UUID).")]
    if notification_url:
        problem = url_problem(notification_url, egress_policy())
        if problem:
            problems["notification_url"] = [_("The notification URL %(problem)s.") % {"problem": problem}]
    return problems


def organization_save(*, organization: Organization, actor: Any, changed_fields: Iterable[str] = ()) -> Organization:
    """Save an organization edited in the admin; audit what changed; give it a notification
    signing secret as soon as it has a notification URL (webhooks are never signed with an
    empty key)."""
    adding = organization._state.adding
    problems = organization_problems(slug=organization.slug, notification_url=organization.notification_url)
    if problems:
        raise ValidationError(problems)
    with transaction.atomic():
        if organization.notification_url and not organization.notification_secret:
            organization.notification_secret = _new_secret()
        organization.save()
        changed = [name for name in changed_fields if name in AUDITED_FIELDS]
        if adding or changed:
            audit.record(
                action="organization.created" if adding else "organization.updated",
                actor=actor,
                organization=organization,
                target=organization,
                after={name: getattr(organization, name) for name in (AUDITED_FIELDS if adding else changed)},
            )
    return organization


def organization_rotate_notification_secret(*, organization: Organization, actor: Any) -> str:
    """Replace the signing secret of outgoing notifications and return it, to be shown once."""
    secret = _new_secret()
    with transaction.atomic():
        organization.notification_secret = secret
        organization.save(update_fields=["notification_secret", "updated_at"])
        audit.record(
            action="organization.notification_secret_rotated",
            actor=actor,
            organization=organization,
            target=organization,
        )
    return secret
