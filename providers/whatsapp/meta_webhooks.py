"""Meta Cloud API webhook payloads → normalized events.

Shapes from Meta's webhook reference as recorded in the ``pywa`` library's test data
(david-lev/pywa ``tests/data/updates/*.json``); the fixtures we use are listed in
``tests/providers/fixtures/meta/SOURCES.md``.

* ``messages[]`` of type text and media (image, video, audio incl. voice notes, document,
  sticker) are inbound messages; media arrive as an id (``meta-media:<id>``, fetched by
  ``download_media``) with ``mime_type``, ``caption`` and ``filename``.
* ``interactive`` (``button_reply`` / ``list_reply``) and ``button`` (a template's quick
  reply: ``payload`` + ``text``) are replies: id and title kept, ``context.id`` is the message
  answered.
* ``reaction`` (``message_id`` + ``emoji``; no or empty emoji = removed) is a reaction.
* ``system`` (``user_changed_number``, ``customer_identity_changed``) is a notice, not a
  message.
* ``statuses[]``: sent, delivered, read, failed, and ``played`` (voice), reported as read with
  ``provider_status = "played"``. Failures with error 131047 carry our
  ``outside_service_window`` code.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from providers import events
from providers.values import Attachment, InboundEvent, InteractiveReply, Reaction, SystemNotice

STATUS_MAP = {
    "sent": events.STATUS_SENT,
    "delivered": events.STATUS_DELIVERED,
    "read": events.STATUS_READ,
    "played": events.STATUS_READ,
    "failed": events.STATUS_FAILED,
}
MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")
MEDIA_PREFIX = "meta-media:"

# Meta error code → our normalized code (Meta's code stays in the message). From Meta's error
# code table as pywa records it (pywa/errors.py).
NORMALIZED_ERRORS = {
    "131047": events.ERROR_OUTSIDE_WINDOW,  # ReEngagementMessage: more than 24 h since the customer wrote
    "132001": events.ERROR_TEMPLATE_UNAVAILABLE,  # TemplateNotExists (name/language) or not approved
    "132015": events.ERROR_TEMPLATE_UNAVAILABLE,  # TemplatePaused
    "132016": events.ERROR_TEMPLATE_UNAVAILABLE,  # TemplateDisabled
    "132000": events.ERROR_TEMPLATE_PARAMETERS,  # TemplateParamCountMismatch
    "132008": events.ERROR_TEMPLATE_PARAMETERS,  # TemplateParamValueInvalid
    "132012": events.ERROR_TEMPLATE_PARAMETERS,  # TemplateParamFormatMismatch
}


def plus(number: Any) -> str:
    text = str(number or "").strip()
    return text if not text or text.startswith("+") else f"+{text}"


def timestamp(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def normalized_error(code: Any, message: str) -> tuple[str, str]:
    """(error_code, error_message) for an event: ours when we normalize it, else Meta's."""
    code_text = str(code or "")
    normalized = NORMALIZED_ERRORS.get(code_text)
    if normalized:
        return normalized, f"[{code_text}] {message}".strip()
    return code_text, message


def parse(data: dict[str, Any]) -> list[InboundEvent]:
    parsed: list[InboundEvent] = []
    for entry in data.get("entry") or []:
        for change in (entry.get("changes") or []) if isinstance(entry, dict) else []:
            if not isinstance(change, dict) or change.get("field") != "messages":
                continue
            value = change.get("value") or {}
            own_number = plus((value.get("metadata") or {}).get("display_phone_number", ""))
            for item in value.get("messages") or []:
                if isinstance(item, dict):
                    parsed.append(_message(item, own_number))
            for item in value.get("statuses") or []:
                event = _status(item) if isinstance(item, dict) else None
                if event is not None:
                    parsed.append(event)
    return parsed


def _status(item: dict[str, Any]) -> InboundEvent | None:
    meta_status = str(item.get("status", ""))
    status = STATUS_MAP.get(meta_status)
    if status is None:
        return None
    error = (item.get("errors") or [{}])[0] or {}
    code, message = normalized_error(error.get("code"), str(error.get("message") or error.get("title") or "")) if error else ("", "")
    return InboundEvent(
        kind=events.MESSAGE_STATUS,
        event_id=f"{item.get('id')}:{meta_status}",
        provider_message_id=str(item.get("id", "")),
        status=status,
        provider_status=meta_status,
        to_number=plus(item.get("recipient_id", "")) if item.get("recipient_type", "individual") == "individual" else "",
        error_code=code,
        error_message=message,
        occurred_at=timestamp(item.get("timestamp")),
        raw=item,
    )


def _message(item: dict[str, Any], own_number: str) -> InboundEvent:
    kind = str(item.get("type", ""))
    sender = plus(item.get("from", ""))
    common: dict[str, Any] = {
        "event_id": str(item.get("id", "")),
        "provider_message_id": str(item.get("id", "")),
        "from_number": sender,
        "to_number": own_number,
        "chat_id": sender,
        "chat_kind": events.CHAT_DIRECT,
        "sender_id": sender,
        "sender_kind": events.SENDER_PHONE,
        "related_message_id": str((item.get("context") or {}).get("id", "")),
        "occurred_at": timestamp(item.get("timestamp")),
        "raw": item,
    }
    if kind == "interactive":
        interactive = item.get("interactive") or {}
        reply_type = str(interactive.get("type", ""))
        reply = interactive.get(reply_type) or {}
        reply_kind = {"button_reply": events.REPLY_BUTTON, "list_reply": events.REPLY_LIST}.get(reply_type)
        if reply_kind:
            return InboundEvent(
                kind=events.INTERACTIVE_REPLY, body=str(reply.get("title", "")),
                reply=InteractiveReply(kind=reply_kind, id=str(reply.get("id", "")), title=str(reply.get("title", "")),
                                       description=str(reply.get("description", ""))),
                **common,
            )
    if kind == "button":
        button = item.get("button") or {}
        return InboundEvent(
            kind=events.INTERACTIVE_REPLY, body=str(button.get("text", "")),
            reply=InteractiveReply(kind=events.REPLY_TEMPLATE_BUTTON, id=str(button.get("payload", "")),
                                   title=str(button.get("text", ""))),
            **common,
        )
    if kind == "reaction":
        reaction = item.get("reaction") or {}
        common["related_message_id"] = str(reaction.get("message_id", ""))
        return InboundEvent(kind=events.REACTION, reaction=Reaction(emoji=str(reaction.get("emoji") or "")), **common)
    if kind == "system":
        system = item.get("system") or {}
        return InboundEvent(
            kind=events.SYSTEM_NOTICE, body=str(system.get("body", "")),
            system=SystemNotice(type=str(system.get("type", "")), body=str(system.get("body", "")),
                                new_id=str(system.get("wa_id") or system.get("new_wa_id") or "")),
            **common,
        )
    body = ""
    attachments: tuple[Attachment, ...] = ()
    if kind == "text":
        body = str((item.get("text") or {}).get("body", ""))
    elif kind in MEDIA_TYPES:
        media = item.get(kind) or {}
        body = str(media.get("caption", ""))
        attachments = (Attachment(
            url=f"{MEDIA_PREFIX}{media.get('id', '')}", mime_type=str(media.get("mime_type", "")),
            caption=body, filename=str(media.get("filename", "")),
        ),)
    else:
        body = f"[{kind or 'unknown'} message]"
    return InboundEvent(kind=events.INBOUND_MESSAGE, body=body, attachments=attachments, **common)


__all__ = ["MEDIA_PREFIX", "NORMALIZED_ERRORS", "STATUS_MAP", "normalized_error", "parse", "plus", "timestamp"]
