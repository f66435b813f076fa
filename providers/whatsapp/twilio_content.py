"""Twilio Content API shapes (``https://content.twilio.com/v1``), used by Twilio WhatsApp.

Templates are Content resources: a send names one with ``ContentSid`` and fills it with
``ContentVariables`` (JSON of placeholder → value) instead of ``Body``. Interactive messages
are Content too: ``twilio/quick-reply`` (``body``, ``actions: [{"title", "id"}]``) and
``twilio/list-picker`` (``body``, ``button``, ``items: [{"item", "id", "description"}]``),
created with ``POST /v1/Content`` (JSON ``{"friendly_name", "language", "variables",
"types"}``). Field names from the official ``twilio`` package
(``twilio/rest/content/v1/content/__init__.py``: ``ContentCreateRequest``, ``TwilioQuickReply``,
``QuickReplyAction``, ``TwilioListPicker``, ``ListItem``; ``content_and_approvals.py``).

``GET /v1/ContentAndApprovals`` lists contents with their WhatsApp approval in
``approval_requests`` (``name``, ``category``, ``status``, ``rejection_reason``), paged by
``meta.next_page_url`` (``twilio/base/page.py``). The inner fields of ``approval_requests``
follow Twilio's documented example (twilio.com/docs/content/content-api-resources); they are
*not* modelled in the SDK (a free-form dict there).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from providers.values import (
    InteractiveMessage,
    ProviderTemplate,
    TemplateButton,
    TemplateStatus,
    placeholders,
)

DEFAULT_CONTENT_BASE_URL = "https://content.twilio.com"
# Which type's body describes the content: the WhatsApp-specific ones first, plain text (often
# the fallback for other channels) last.
BODY_TYPES = ("whatsapp/authentication", "whatsapp/card", "twilio/quick-reply", "twilio/call-to-action",
              "twilio/list-picker", "twilio/card", "twilio/media", "twilio/text")


def content_variables(variables: Mapping[str, str], names: Mapping[str, str]) -> str:
    return json.dumps({names.get(key, key): value for key, value in variables.items()}, ensure_ascii=False, sort_keys=True)


def interactive_content(message: InteractiveMessage) -> dict[str, Any]:
    """A Content create request for an interactive message (lists are flat on Twilio)."""
    if message.sections:
        kind = "twilio/list-picker"
        body: dict[str, Any] = {"body": message.body, "button": message.button_text, "items": [
            {"item": title, "id": option_id, **({"description": description} if description else {})}
            for option_id, title, description in message.options()
        ]}
    else:
        kind = "twilio/quick-reply"
        body = {"body": message.body, "actions": [{"title": b.title, "id": b.id} for b in message.buttons]}
    # The same message gets the same name, so repeated sends are recognisable in the console.
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
    return {"friendly_name": f"switchboard_{digest}", "language": "en", "types": {kind: body}}


def provider_template(record: Mapping[str, Any]) -> ProviderTemplate:
    types = record.get("types") if isinstance(record.get("types"), Mapping) else {}
    body, buttons = "", []
    for kind in (*BODY_TYPES, *types):
        content = types.get(kind)
        if isinstance(content, Mapping) and content.get("body"):
            body = str(content["body"])
            for action in content.get("actions") or []:
                if isinstance(action, Mapping):
                    action_type = str(action.get("type", "QUICK_REPLY")).upper()
                    buttons.append(TemplateButton(
                        kind={"QUICK_REPLY": "quick_reply", "URL": "url", "PHONE_NUMBER": "phone_number"}.get(action_type, "other"),
                        text=str(action.get("title", "")), url=str(action.get("url", "")), phone_number=str(action.get("phone", "")),
                    ))
            break
    approval = record.get("approval_requests")
    approval = approval if isinstance(approval, Mapping) else {}
    return ProviderTemplate(
        provider_template_id=str(record.get("sid", "")),
        name=str(record.get("friendly_name", "")),
        language=str(record.get("language", "")),
        status=TemplateStatus.from_provider(approval.get("status", "")),
        category=str(approval.get("category") or "").lower(),
        body=body,
        buttons=tuple(buttons),
        variables=placeholders(body),
        rejection_reason=str(approval.get("rejection_reason") or ""),
        raw=dict(record),
    )


__all__ = ["DEFAULT_CONTENT_BASE_URL", "content_variables", "interactive_content", "provider_template"]
