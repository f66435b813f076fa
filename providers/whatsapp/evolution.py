"""Evolution API's wire format (v2): send answers, errors, webhook events.

Read from the Evolution API source (EvolutionAPI/evolution-api,
``src/api/integrations/channel/whatsapp/whatsapp.baileys.service.ts``, ``src/main.ts``,
``src/exceptions/*.ts``, ``src/api/integrations/event/webhook/webhook.controller.ts``);
fixtures and their sources are in ``tests/providers/fixtures/evolution/SOURCES.md``.

* A send answers the stored message (``prepareMessage``): ``{"key": {"remoteJid", "fromMe":
  true, "id"}, "status": "PENDING", "message": …, "messageType", "messageTimestamp", …}``;
  ``messages.update`` events carry the same id as ``keyId``.
* Errors are ``{"status": 400, "error": "Bad Request", "response": {"message": [...]}}``;
  ``message`` is a string, a list of strings, a list of lists (schema validation), or, for a
  number not on WhatsApp, a list of ``{"exists": false, "jid", "number"}``.
* ``messages.upsert``: ``key.remoteJid`` may be ``…@lid``; then ``key.addressingMode`` is
  ``"lid"`` and ``key.remoteJidAlt`` holds the phone JID (and the other way round with
  ``"pn"``); since PR #1955 (2025-09) Evolution puts the phone in ``remoteJid`` itself when it
  knows it, and older versions send the linked id alone (issue #2466). In groups the member
  is ``key.participant`` with ``participantAlt``/``senderPn`` (issue #1746). Media messages (``imageMessage``, ``documentMessage``, ``videoMessage``,
  ``audioMessage``, ``stickerMessage``) carry ``caption``/``mimetype``/``fileName``; a media
  URL only when the instance stores media in S3 (``message.mediaUrl``).
* ``connection.update`` states: ``open``, ``connecting``, ``close``, and ``refused`` when the QR
  code limit was reached (the session ended: down).
* Every webhook body echoes the instance's ``apikey`` and the webhook URL (``destination``);
  they are removed from ``InboundEvent.raw``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from providers import events
from providers.values import Attachment, InboundEvent, Reaction
from providers.whatsapp import jids

# Evolution connection states, read as the WAHA statuses they correspond to.
STATES = {"open": "WORKING", "connecting": "SCAN_QR_CODE", "close": "STOPPED", "refused": "FAILED"}
WEBHOOK_EVENTS = ("MESSAGES_UPSERT", "MESSAGES_UPDATE", "CONNECTION_UPDATE")
# renderStatus.ts: 0 ERROR, 1 PENDING, 2 SERVER_ACK, 3 DELIVERY_ACK, 4 READ, 5 PLAYED.
ACKS = {
    "ERROR": events.STATUS_FAILED,
    "SERVER_ACK": events.STATUS_SENT,
    "DELIVERY_ACK": events.STATUS_DELIVERED,
    "READ": events.STATUS_READ,
    "PLAYED": events.STATUS_READ,
}
# Baileys media message types; the attachment's kind follows from its mimetype.
MEDIA_FIELDS = ("imageMessage", "videoMessage", "audioMessage", "documentMessage", "stickerMessage")
ECHOED_SECRETS = ("apikey", "destination", "server_url")


def sent_message_id(answer: Any) -> str:
    key = answer.get("key") if isinstance(answer, dict) else None
    return str(key.get("id") or "") if isinstance(key, dict) else ""


def error_text(body: dict[str, Any]) -> tuple[str, str | None]:
    """(message, normalized code or None) of an Evolution error body.

    ``response.message`` is a string or a list of strings and objects; a
    ``{"exists": false}`` object means the number is not on WhatsApp.
    """
    response = body.get("response") if isinstance(body.get("response"), dict) else {}
    detail = response.get("message", body.get("message"))
    items = list(_flatten(detail))
    texts: list[str] = []
    code = None
    for item in items:
        if isinstance(item, dict):
            if item.get("exists") is False:
                code = "not_on_whatsapp"
                texts.append("The number is not on WhatsApp.")
        elif item not in (None, ""):
            texts.append(str(item)[:300])
    if not texts and body.get("error"):
        texts.append(str(body["error"])[:100])
    return "; ".join(texts[:5]), code


def _flatten(value: Any, depth: int = 0) -> Any:
    """Validation errors arrive as a list of lists (``[["instance requires property …"]]``)."""
    if isinstance(value, list) and depth < 3:
        for item in value[:20]:
            yield from _flatten(item, depth + 1)
    else:
        yield value


def parse(data: dict[str, Any]) -> list[InboundEvent]:
    body = data.get("data")
    if not isinstance(body, dict):
        return []
    raw = {k: v for k, v in data.items() if k not in ECHOED_SECRETS}
    event = str(data.get("event", "")).lower().replace("_", ".")
    key = body.get("key") if isinstance(body.get("key"), dict) else {}
    if event == "messages.upsert":
        return [] if key.get("fromMe") else _upsert(body, key, raw)
    if event == "messages.update":
        status = ACKS.get(str(body.get("status", "")).upper())
        message_id = str(body.get("keyId") or key.get("id") or "")
        if status is None or not message_id or body.get("fromMe") is False:
            return []
        return [InboundEvent(
            kind=events.MESSAGE_STATUS, event_id=f"{message_id}:{body.get('status')}", provider_message_id=message_id,
            status=status, provider_status=str(body.get("status", "")).lower(), raw=raw,
            error_code="ack_error" if status == events.STATUS_FAILED else "",
        )]
    if event == "connection.update":
        state = str(body.get("state", "")).lower()
        bridge_status = STATES.get(state, "")
        return [InboundEvent(
            kind=events.SESSION_STATUS, status=_session_status(bridge_status), provider_status=state,
            raw={"instance": data.get("instance"), "status": bridge_status, "state": state},
        )]
    return []


def _session_status(bridge_status: str) -> str:
    return {
        "WORKING": events.SESSION_WORKING, "SCAN_QR_CODE": events.SESSION_SCAN_QR,
        "STOPPED": events.SESSION_STOPPED, "FAILED": events.SESSION_FAILED,
    }.get(bridge_status, "unknown")


def _addresses(key: dict[str, Any]) -> dict[str, str]:
    chat = str(key.get("remoteJid") or "")
    kind = jids.chat_kind(chat)
    if kind == events.CHAT_GROUP:
        sender = str(key.get("participant") or "")
        alternates = (key.get("participantAlt"), key.get("participantPn"), key.get("senderPn"))
    else:
        sender = chat
        alternates = (key.get("remoteJidAlt"), key.get("senderPn"))
    phone = jids.phone(sender) or next((jids.phone(a) for a in alternates if jids.phone(a)), "")
    return {
        "chat_id": chat,
        "chat_kind": kind,
        "sender_id": sender,
        "sender_kind": jids.sender_kind(sender),
        "from_number": phone,
    }


def _upsert(body: dict[str, Any], key: dict[str, Any], raw: dict[str, Any]) -> list[InboundEvent]:
    content = body.get("message") if isinstance(body.get("message"), dict) else {}
    message_id = str(key.get("id", ""))
    occurred_at = _seconds(body.get("messageTimestamp"))
    reaction = content.get("reactionMessage")
    if isinstance(reaction, dict):
        target = reaction.get("key") if isinstance(reaction.get("key"), dict) else {}
        return [InboundEvent(
            kind=events.REACTION, event_id=message_id, provider_message_id=message_id,
            related_message_id=str(target.get("id", "")), reaction=Reaction(emoji=str(reaction.get("text") or "")),
            occurred_at=occurred_at, raw=raw, **_addresses(key),
        )]
    text = content.get("conversation") or (content.get("extendedTextMessage") or {}).get("text") or ""
    attachments: tuple[Attachment, ...] = ()
    for field in MEDIA_FIELDS:
        media = content.get(field)
        if not isinstance(media, dict):
            continue
        caption = str(media.get("caption") or "")
        text = text or caption
        # Without S3 Evolution sends no fetchable URL; the reference names the message, whose
        # media Evolution serves through POST /chat/getBase64FromMediaMessage/<instance>.
        url = str(content.get("mediaUrl") or f"evolution-media:{message_id}")
        attachments = (Attachment(url=url, mime_type=str(media.get("mimetype") or ""), caption=caption,
                                  filename=str(media.get("fileName") or "")),)
        break
    return [InboundEvent(
        kind=events.INBOUND_MESSAGE, event_id=message_id, provider_message_id=message_id, body=str(text),
        attachments=attachments, occurred_at=occurred_at, raw=raw, **_addresses(key),
    )]


def _seconds(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


__all__ = ["ACKS", "STATES", "WEBHOOK_EVENTS", "error_text", "parse", "sent_message_id"]
