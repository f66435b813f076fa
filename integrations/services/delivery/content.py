"""What a message carries beyond free text: templates and interactive messages, at intake and
at send time.

Intake (``clean_template``) finds the organization's template by name and language and checks
the variables fill its body. At send time (``send_plan``) a template send goes only through
integrations that can carry it — an approved mapping on an official provider, or a bridge that
sends the rendered text — and each of them gets the template as it names it
(``outbound_for``). When the route has integrations but none can carry the template, the
message fails with ``template_unavailable`` rather than waiting for one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from integrations.models import (
    InteractiveContent,
    MessageTemplate,
    Organization,
    OrganizationIntegration,
)
from integrations.selectors.templates import template_by_name, template_mappings
from providers import features
from providers.content import MAX_REPLY_ID
from providers.values import (
    InteractiveMessage,
    ListRow,
    ListSection,
    OutboundMessage,
    ReplyButton,
    TemplateButtonValue,
    TemplateHeader,
    TemplateMapping,
    TemplateMessage,
    placeholders,
    render,
)

MAX_VARIABLES = 100
MAX_VARIABLE_LENGTH = 1024
# Read at most this many buttons, sections or rows of a request; more is refused by problems().
MAX_OPTIONS = 11


def clean_template(*, organization: Organization, template: Any) -> tuple[MessageTemplate, dict[str, str]]:
    """``{"name", "language", "variables", "header"?, "buttons"?}`` → (the template, its
    variables as text). ``ValidationError`` on the ``template`` field otherwise. The header and
    button values are ``clean_template_parameters``'."""
    if not isinstance(template, Mapping):
        raise ValidationError({"template": [_("A template is an object with a name, a language and variables.")]})
    name, language = str(template.get("name") or ""), str(template.get("language") or "")
    variables = template.get("variables") or {}
    if not isinstance(variables, Mapping) or len(variables) > MAX_VARIABLES or not all(
        isinstance(value, str | int | float) and not isinstance(value, bool) and len(str(value)) <= MAX_VARIABLE_LENGTH
        and len(str(key)) <= MAX_REPLY_ID for key, value in variables.items()
    ):
        raise ValidationError({"template": [_("Template variables map names to texts of at most %(limit)s characters.")
                                            % {"limit": MAX_VARIABLE_LENGTH}]})
    found = template_by_name(organization=organization, name=name, language=language) if name and language else None
    if found is None:
        raise ValidationError({"template": [_("No template named '%(name)s' in language '%(language)s'.")
                                            % {"name": name[:100], "language": language[:16]}]})
    cleaned = {str(key): str(value) for key, value in variables.items()}
    try:
        render(found.body, cleaned)
    except ValueError:
        missing = [name for name in placeholders(found.body) if name not in cleaned]
        raise ValidationError({"template": [_("Missing template variable(s): %(names)s.") % {"names": ", ".join(missing)}]}) from None
    return found, cleaned


MEDIA_HEADERS = ("image", "document", "video")
MAX_BUTTON_VALUES = 10


def clean_template_parameters(found: MessageTemplate, template: Mapping[str, Any]) -> dict[str, Any] | None:
    """The header and button values a send gives its template, checked against it: a media
    header needs a media link, a text header its variables. None when there are none."""
    header, buttons = template.get("header") or {}, template.get("buttons") or []
    problems: list[str] = []
    cleaned: dict[str, Any] = {}
    header_format = (found.header or {}).get("format", "") if found.header else ""
    if not isinstance(header, Mapping) or not isinstance(buttons, list) or len(buttons) > MAX_BUTTON_VALUES:
        raise ValidationError({"template": [_("The header is an object and the buttons a list of at most %(limit)s.")
                                            % {"limit": MAX_BUTTON_VALUES}]})
    media_url = _text(header.get("media_url"), 2000)
    if header_format in MEDIA_HEADERS:
        if not media_url.startswith(("https://", "http://")):
            problems.append(_("This template's header is a %(format)s: give template.header.media_url.") % {"format": header_format})
        cleaned["header"] = {"media_url": media_url, "media_kind": header_format, "filename": _text(header.get("filename"), 255)}
    elif header_format == "text" and placeholders(found.header.get("text", "")):
        variables = header.get("variables") if isinstance(header.get("variables"), Mapping) else {}
        text_variables = {str(k): _text(v, MAX_VARIABLE_LENGTH) for k, v in variables.items()}
        missing = [name for name in placeholders(found.header.get("text", "")) if name not in text_variables]
        if missing:
            problems.append(_("Missing header variable(s): %(names)s.") % {"names": ", ".join(missing)})
        cleaned["header"] = {"variables": text_variables}
    values = []
    for button in buttons:
        index = button.get("index") if isinstance(button, Mapping) else None
        kind = button.get("kind") if isinstance(button, Mapping) else None
        value = _text(button.get("value"), MAX_VARIABLE_LENGTH) if isinstance(button, Mapping) else ""
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < MAX_BUTTON_VALUES \
                or kind not in ("quick_reply", "url") or not value:
            problems.append(_("Every button value needs an index (0-9), a kind (quick_reply or url) and a value."))
            break
        values.append({"index": index, "kind": kind, "value": value})
    if values:
        cleaned["buttons"] = values
    if problems:
        raise ValidationError({"template": problems})
    return cleaned or None


def can_carry(integration: OrganizationIntegration, mapping: Any) -> bool:
    """Whether this integration may send this template: a bridge always (rendered text, no
    approval exists there), an official provider only with an approved mapping."""
    provider_class = integration.provider_class()
    if not provider_class.supports(features.TEMPLATES):
        return False
    if provider_class.supports(features.TEXT_FALLBACK):
        return True
    return mapping is not None and mapping.approved


@dataclass(frozen=True)
class SendPlan:
    """A template send's template and its mappings (integration id → mapping); ``template``
    is None when the template was deleted after intake."""

    template: MessageTemplate | None
    variables: Mapping[str, str]
    mappings: Mapping[Any, Any] = field(default_factory=dict)
    parameters: Mapping[str, Any] = field(default_factory=dict)


def send_plan(row: Any) -> SendPlan | None:
    """None for anything but a template send (calls, free text)."""
    if getattr(row, "template_variables", None) is None:
        return None
    template = row.template if row.template_id else None
    mappings = template_mappings(template=template) if template is not None else {}
    return SendPlan(template=template, variables=row.template_variables, mappings=mappings,
                    parameters=getattr(row, "template_parameters", None) or {})


def route_for(plan: SendPlan | None, route: list[OrganizationIntegration]) -> tuple[list[OrganizationIntegration], str]:
    """(the integrations of ``route`` that can carry the send, why none can or "")."""
    if plan is None or not route:
        return route, ""
    if plan.template is None:
        return [], _("The template was deleted before the message was sent.")
    carriers = [integration for integration in route if can_carry(integration, plan.mappings.get(integration.pk))]
    if carriers:
        return carriers, ""
    return [], _("Template '%(name)s' (%(language)s) is not approved on any active integration of the channel.") % {
        "name": plan.template.name, "language": plan.template.language}


def outbound_for(plan: SendPlan | None, outbound: OutboundMessage, integration: OrganizationIntegration) -> OutboundMessage:
    """The message as this integration sends it: the template under the integration's names, an
    interactive message with the provider resource made for it before (``content_sent``)."""
    if getattr(outbound, "interactive", None) is not None:
        return _with_known_content(outbound, integration)
    if plan is None or plan.template is None:
        return outbound
    template, mapping = plan.template, plan.mappings.get(integration.pk)
    provider_mapping = TemplateMapping(
        name=mapping.provider_template_name, language=mapping.provider_language,
        components=tuple(mapping.components or ()), content_sid=mapping.provider_template_id,
        variable_names=dict(mapping.variable_names or {}),
    ) if mapping is not None else TemplateMapping()
    header = plan.parameters.get("header") or None
    return replace(outbound, body="", template=TemplateMessage(
        name=template.name, language=template.language, variables=dict(plan.variables), text=template.body,
        category=template.category, mapping=provider_mapping,
        header=TemplateHeader(text_variables=dict(header.get("variables") or {}), media_url=header.get("media_url", ""),
                              media_kind=header.get("media_kind", ""), filename=header.get("filename", ""))
        if header else None,
        buttons=tuple(TemplateButtonValue(index=b["index"], kind=b["kind"], value=b["value"])
                      for b in plan.parameters.get("buttons") or ()),
    ))


# --------------------------------------------------------------------------- interactive messages


def _text(value: Any, limit: int) -> str:
    return str(value or "")[:limit] if isinstance(value, str | int | float) and not isinstance(value, bool) else ""


def interactive_from_dict(data: Mapping[str, Any]) -> InteractiveMessage:
    """The stored (or requested) form → the provider layer's value object. Overlong texts are
    cut only far beyond every limit, so ``problems()`` still reports them."""
    sections = data.get("sections") or []
    buttons = data.get("buttons") or []
    return InteractiveMessage(
        body=_text(data.get("body"), 4096),
        header=_text(data.get("header"), 1024),
        footer=_text(data.get("footer"), 1024),
        button_text=_text(data.get("button_text"), 1024),
        buttons=tuple(ReplyButton(id=_text(b.get("id"), 1024), title=_text(b.get("title"), 1024))
                      for b in buttons[:MAX_OPTIONS] if isinstance(b, Mapping)),
        sections=tuple(
            ListSection(title=_text(s.get("title"), 1024), rows=tuple(
                ListRow(id=_text(r.get("id"), 1024), title=_text(r.get("title"), 1024), description=_text(r.get("description"), 1024))
                for r in (s.get("rows") or [])[:MAX_OPTIONS] if isinstance(r, Mapping)))
            for s in sections[:MAX_OPTIONS] if isinstance(s, Mapping)
        ),
    )


def interactive_to_dict(message: InteractiveMessage) -> dict[str, Any]:
    return {
        "body": message.body, "header": message.header, "footer": message.footer, "button_text": message.button_text,
        "buttons": [{"id": b.id, "title": b.title} for b in message.buttons],
        "sections": [{"title": s.title, "rows": [{"id": r.id, "title": r.title, "description": r.description} for r in s.rows]}
                     for s in message.sections],
    }


def clean_interactive(data: Any) -> tuple[dict[str, Any], str]:
    """(what to store, its numbered-text rendering) or ``ValidationError`` on ``interactive``
    with every problem the provider layer finds (Meta's limits, the strictest)."""
    if not isinstance(data, Mapping):
        raise ValidationError({"interactive": [_("An interactive message is an object with a body and buttons or sections.")]})
    message = interactive_from_dict(data)
    problems = message.problems()
    if problems:
        raise ValidationError({"interactive": problems})
    return interactive_to_dict(message), message.as_text()


def interactive_of(row: Any) -> InteractiveMessage | None:
    data = getattr(row, "interactive", None)
    return interactive_from_dict(data) if isinstance(data, Mapping) else None


def _digest(message: InteractiveMessage) -> str:
    return hashlib.sha256(json.dumps(interactive_to_dict(message), sort_keys=True).encode()).hexdigest()


def _with_known_content(outbound: OutboundMessage, integration: OrganizationIntegration) -> OutboundMessage:
    if outbound.interactive.provider_content_id:
        return outbound
    known = InteractiveContent.objects.filter(integration=integration, digest=_digest(outbound.interactive)).values_list(
        "provider_content_id", flat=True).first()
    return replace(outbound, interactive=replace(outbound.interactive, provider_content_id=known)) if known else outbound


def content_sent(*, integration: OrganizationIntegration, outbound: Any, result: Any) -> None:
    """Keep the resource a provider created to send an interactive message (Twilio's Content
    SID in ``SendResult.raw["content_sid"]``), so identical messages reuse it."""
    interactive = getattr(outbound, "interactive", None)
    raw = getattr(result, "raw", None) or {}
    content_id = raw.get("content_sid") if isinstance(raw, Mapping) else None
    if interactive is None or interactive.provider_content_id or not isinstance(content_id, str) or not content_id:
        return
    InteractiveContent.objects.get_or_create(
        integration=integration, digest=_digest(interactive),
        defaults={"organization_id": integration.organization_id, "provider_content_id": content_id[:255]},
    )
