"""The 24-hour customer-service window at intake.

A free-form message (no template) to a contact whose window is closed cannot be delivered by an
official provider. When every active integration of the channel enforces the window
(``providers.features.SERVICE_WINDOW``), such a message is refused at intake
(``outside_service_window``) — unless the organization set a fallback template, then it is sent
as that template (its one variable, if any, receives the message's text; a message with
attachments or an interactive message cannot become one). When a bridge (no
window) is among the integrations, the message is accepted: the official providers refuse it
with the same code, which fails over to the bridge.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.utils.translation import gettext as _

from integrations.models import Organization
from integrations.selectors.service_windows import open_contacts
from integrations.services.routing import route_integrations
from providers import features
from providers.values import placeholders, render


def _window_applies(organization: Organization, channel: str) -> bool:
    route = route_integrations(organization=organization, channel=channel)
    return bool(route) and all(integration.provider_class().supports(features.SERVICE_WINDOW) for integration in route)


def _as_fallback(fields: dict[str, Any], template) -> None:
    names = placeholders(template.body)
    variables = {names[0]: fields["body"]} if names else {}
    fields.update(template=template, template_variables=variables, category=template.category,
                  body=render(template.body, variables))


def enforce_windows(*, organization: Organization, items: Sequence[dict[str, Any]]) -> list[str | None]:
    """For each cleaned message's fields: None when it may be queued (rewritten in place to the
    fallback template when that is what it becomes), else why it is refused."""
    refusals: list[str | None] = [None] * len(items)
    free_form = [index for index, fields in enumerate(items) if fields.get("template_variables") is None]
    channels = {items[index]["channel"] for index in free_form}
    for channel in channels:
        if not _window_applies(organization, channel):
            continue
        mine = [index for index in free_form if items[index]["channel"] == channel]
        still_open = open_contacts(organization=organization, channel=channel, contacts=[items[i]["to"] for i in mine])
        fallback = organization.window_fallback_template
        for index in mine:
            fields = items[index]
            if fields["to"] in still_open:
                continue
            if fallback is not None and not fields.get("attachments") and not fields.get("interactive"):
                _as_fallback(fields, fallback)
            else:
                refusals[index] = _(
                    "%(contact)s has not written in the last 24 hours: WhatsApp's official providers only "
                    "deliver an approved template to them now. Send a template, or set a fallback template."
                ) % {"contact": fields["to"]}
    return refusals
