"""Meta Cloud API request and answer shapes for templates and interactive messages.

Template send (``type: template``): ``{"name", "language": {"code"}, "components": [...]}``
with ``header``/``body`` parameters ``{"type": "text", "text"}`` (named templates add
``parameter_name``), media headers ``{"type": "image", "image": {"link"}}``, and buttons
``{"type": "button", "sub_type": "quick_reply"|"url", "index", "parameters": [...]}`` — as
built by pywa (``client.py`` ``send_template``, ``types/templates.py``) and Meta's reference.
Interactive: ``{"type": "button", "body", "action": {"buttons": [{"type": "reply", "reply":
{"id", "title"}}]}}`` or ``{"type": "list", "body", "action": {"button", "sections": [...]}}``
(pywa ``types/callback.py``).

Template list (``GET /<waba_id>/message_templates``): ``{"data": [{"id", "name", "language",
"status", "category", "components": [{"type": "HEADER"|"BODY"|"FOOTER"|"BUTTONS", …}],
"rejected_reason"}], "paging": {"cursors": {"before", "after"}, "next"}}`` (pywa ``api.py``
``get_templates``, ``types/others.py`` ``Result``; template examples in pywa
``tests/data/templates``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from providers.values import (
    InteractiveMessage,
    ProviderTemplate,
    TemplateButton,
    TemplateMessage,
    TemplateStatus,
    placeholders,
)


def _text_parameters(variables: Mapping[str, str]) -> list[dict[str, Any]]:
    """Positional (``{{1}}``…) when every name is a number, else named parameters."""
    if all(str(name).isdigit() for name in variables):
        return [{"type": "text", "text": str(variables[name])} for name in sorted(variables, key=int)]
    return [{"type": "text", "parameter_name": str(name), "text": str(value)} for name, value in variables.items()]


def template_object(template: TemplateMessage) -> dict[str, Any]:
    mapping = template.mapping
    result: dict[str, Any] = {
        "name": mapping.name or template.name,
        "language": {"code": mapping.language or template.language},
    }
    if mapping.components:
        result["components"] = [dict(component) for component in mapping.components]
        return result
    components: list[dict[str, Any]] = []
    header = template.header
    if header is not None and header.media_url:
        kind = header.media_kind or "image"
        media: dict[str, Any] = {"link": header.media_url}
        if kind == "document" and header.filename:
            media["filename"] = header.filename
        components.append({"type": "header", "parameters": [{"type": kind, kind: media}]})
    elif header is not None and header.text_variables:
        components.append({"type": "header", "parameters": _text_parameters(header.text_variables)})
    if template.variables:
        components.append({"type": "body", "parameters": _text_parameters(template.variables)})
    for button in template.buttons:
        parameter = ({"type": "payload", "payload": button.value} if button.kind == "quick_reply"
                     else {"type": "text", "text": button.value})
        components.append({"type": "button", "sub_type": button.kind, "index": str(button.index), "parameters": [parameter]})
    if components:
        result["components"] = components
    return result


def interactive_object(message: InteractiveMessage) -> dict[str, Any]:
    result: dict[str, Any] = {"type": "list" if message.sections else "button", "body": {"text": message.body}}
    if message.header:
        result["header"] = {"type": "text", "text": message.header}
    if message.footer:
        result["footer"] = {"text": message.footer}
    if message.sections:
        result["action"] = {"button": message.button_text, "sections": [
            {**({"title": section.title} if section.title else {}),
             "rows": [{"id": row.id, "title": row.title, **({"description": row.description} if row.description else {})}
                      for row in section.rows]}
            for section in message.sections
        ]}
    else:
        result["action"] = {"buttons": [{"type": "reply", "reply": {"id": b.id, "title": b.title}} for b in message.buttons]}
    return result


BUTTON_KINDS = {"QUICK_REPLY": "quick_reply", "URL": "url", "PHONE_NUMBER": "phone_number", "COPY_CODE": "copy_code"}


def provider_template(record: Mapping[str, Any]) -> ProviderTemplate:
    """One entry of ``message_templates`` → a provider-neutral description."""
    parts: dict[str, Mapping[str, Any]] = {}
    buttons: list[TemplateButton] = []
    for component in record.get("components") or []:
        if not isinstance(component, Mapping):
            continue
        kind = str(component.get("type", "")).upper()
        parts.setdefault(kind, component)
        if kind == "BUTTONS":
            for button in component.get("buttons") or []:
                buttons.append(TemplateButton(
                    kind=BUTTON_KINDS.get(str(button.get("type", "")).upper(), "other"), text=str(button.get("text", "")),
                    url=str(button.get("url", "")), phone_number=str(button.get("phone_number", "")),
                ))
    body = str(parts.get("BODY", {}).get("text", ""))
    header = parts.get("HEADER", {})
    reason = str(record.get("rejected_reason") or "")
    return ProviderTemplate(
        provider_template_id=str(record.get("id", "")),
        name=str(record.get("name", "")),
        language=str(record.get("language", "")),
        status=TemplateStatus.from_provider(record.get("status")),
        category=str(record.get("category", "")).lower(),
        body=body,
        header=str(header.get("text", "")),
        header_format=str(header.get("format", "")).lower(),
        footer=str(parts.get("FOOTER", {}).get("text", "")),
        buttons=tuple(buttons),
        variables=placeholders(body),
        rejection_reason="" if reason.upper() == "NONE" else reason,
        raw=dict(record),
    )


__all__ = ["interactive_object", "provider_template", "template_object"]
