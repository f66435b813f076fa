"""Writing the 24-hour customer-service windows, and the organization's fallback template.

``window_record_inbound`` runs inside the webhook's transaction for every message (or reply) a
contact sends; a replayed or late webhook never moves a window backwards.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from audit import services as audit
from integrations.models import MessageTemplate, Organization, ServiceWindow
from providers.values import placeholders


def window_record_inbound(*, organization: Organization, channel: str, contact: str, at: datetime) -> None:
    """The contact wrote at ``at``: their window runs 24 hours from the latest such moment."""
    if not contact:
        return  # a group or a linked id without a phone: no window to track
    windows = ServiceWindow.objects.for_org(organization).filter(channel=channel, contact=contact[:64])
    if windows.filter(last_inbound_at__lt=at).update(last_inbound_at=at) or windows.exists():
        return
    try:
        with transaction.atomic():
            ServiceWindow.objects.create(organization=organization, channel=channel, contact=contact[:64], last_inbound_at=at)
    except IntegrityError:  # a concurrent webhook created it first
        windows.filter(last_inbound_at__lt=at).update(last_inbound_at=at)


def window_fallback_set(*, organization: Organization, template: MessageTemplate | None, actor: Any) -> Organization:
    """Make ``template`` (or nothing) what a free-form message outside the window is sent as.
    The template may have at most one variable: it receives the message's text."""
    if template is not None:
        if template.organization_id != organization.pk:
            raise ValidationError({"template": [_("No such template.")]})
        if (template.header or {}).get("format") in ("image", "document", "video"):
            raise ValidationError({"template": [_("A fallback template cannot have a media header.")]})
        if len(placeholders(template.body)) > 1:
            raise ValidationError({"template": [_("A fallback template has at most one variable (it receives the message's text).")]})
    before = str(organization.window_fallback_template_id or "")
    with transaction.atomic():
        organization.window_fallback_template = template
        organization.save(update_fields=["window_fallback_template", "updated_at"])
        audit.record(action="organization.window_fallback_changed", actor=actor, organization=organization,
                     target=organization, before={"template": before}, after={"template": str(template.pk) if template else ""})
    return organization
