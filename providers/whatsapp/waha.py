"""WAHA's wire format: what its engines answer to a send, and its webhook events.

Read from the WAHA source (devlikeapro/waha) and its issue tracker; fixtures and their sources
are in ``tests/providers/fixtures/waha/SOURCES.md``.

Send answers differ per engine, and every form must be read into the id that later
``message.ack`` events carry, the serialized ``<fromMe>_<chat>_<id>`` (``true_14155550123@c.us_3EB0…``):

* WEBJS answers the whatsapp-web.js message: ``{"id": {"fromMe", "remote", "id",
  "_serialized"}, …}``, newer versions also nest it under ``_data.id``
  (``session.webjs.core.ts`` ``sendText``; WAHA issue #1615). Some WEBJS releases answer 201
  with an empty body (issues #1083, #1087): the message was sent, its id is unknown.
* NOWEB answers the raw Baileys message ``{"key": {"remoteJid": "…@s.whatsapp.net",
  "fromMe": true, "id": "3EB0…"}, "message": …, "status": "PENDING"}`` with no top-level id
  (``session.noweb.core.ts`` ``sendText``; issue #760); acks use
  ``buildMessageId`` = ``<fromMe>_<remoteJid as @c.us>_<id>``. Since 2025.9 NOWEB answers a
  WAMessage with a string ``id`` and the Baileys message under ``_data`` (issue #1379).
* GOWS answers ``{"id": "true_<chat>_<id>", "_data": …}`` (``session.gows.core.ts``
  ``messageResponse``/``buildMessageId``; group ids add ``_<participant>``).

A 2xx is never turned into a retryable error: the bridge sent the message, and sending it
again would deliver it twice. An answer without a readable id is recorded with an empty id.

*Unverified*: where newer engines put the phone of a ``…@lid`` sender. Read when present:
NOWEB ``_data.key.remoteJidAlt`` / ``participantAlt`` / ``senderPn``, GOWS
``_data.Info.SenderAlt``; otherwise the sender stays a linked id with no phone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from providers import events
from providers.values import Attachment, HealthStatus, InboundEvent, Reaction
from providers.whatsapp import jids

SESSION_STATUS_MAP = {
    "STARTING": events.SESSION_STARTING,
    "SCAN_QR_CODE": events.SESSION_SCAN_QR,
    "WORKING": events.SESSION_WORKING,
    "STOPPED": events.SESSION_STOPPED,
    "FAILED": events.SESSION_FAILED,
}
SESSION_HEALTH = {
    "WORKING": HealthStatus.HEALTHY,
    "STARTING": HealthStatus.DEGRADED,
    "SCAN_QR_CODE": HealthStatus.DEGRADED,
    "STOPPED": HealthStatus.DOWN,
    "FAILED": HealthStatus.DOWN,
}
# message.ack: -1 ERROR, 0 PENDING, 1 SERVER, 2 DEVICE, 3 READ, 4 PLAYED (enums.dto.ts).
ACK_NAMES = {-1: "ERROR", 0: "PENDING", 1: "SERVER", 2: "DEVICE", 3: "READ", 4: "PLAYED"}
ACK_MAP = {
    "ERROR": events.STATUS_FAILED,
    "SERVER": events.STATUS_SENT,
    "DEVICE": events.STATUS_DELIVERED,
    "READ": events.STATUS_READ,
    "PLAYED": events.STATUS_READ,
}
WEBHOOK_EVENTS = ("message", "message.ack", "message.reaction", "session.status")


def sent_message_id(answer: Any) -> str:
    """The serialized id of a sent message, from any engine's answer ("" when there is none)."""
    if not isinstance(answer, dict):
        return ""
    value = answer.get("id")
    if isinstance(value, str) and value:
        return value
    if isinstance(value, dict) and value.get("_serialized"):
        return str(value["_serialized"])
    nested = answer.get("_data")
    if isinstance(nested, dict):
        inner = nested.get("id")
        if isinstance(inner, dict) and inner.get("_serialized"):
            return str(inner["_serialized"])
        if isinstance(nested.get("key"), dict):
            return _from_key(nested["key"])
    return _from_key(answer.get("key"))


def _from_key(key: Any) -> str:
    """NOWEB's ``buildMessageId``: ``<fromMe>_<remoteJid as @c.us>_<id>``."""
    if not isinstance(key, dict) or not key.get("id") or not key.get("remoteJid"):
        return ""
    from_me = "true" if key.get("fromMe") else "false"
    return f"{from_me}_{jids.cus(key['remoteJid'])}_{key['id']}"


def _alternate_phone(payload: dict[str, Any]) -> str:
    data = payload.get("_data") if isinstance(payload.get("_data"), dict) else {}
    key = data.get("key") if isinstance(data.get("key"), dict) else {}
    info = data.get("Info") if isinstance(data.get("Info"), dict) else {}
    for candidate in (key.get("remoteJidAlt"), key.get("participantAlt"), key.get("senderPn"), info.get("SenderAlt")):
        number = jids.phone(candidate)
        if number:
            return number
    return ""


def _addresses(payload: dict[str, Any]) -> dict[str, str]:
    chat = str(payload.get("from") or "")
    kind = jids.chat_kind(chat)
    sender = str(payload.get("participant") or "") if kind == events.CHAT_GROUP else chat
    return {
        "chat_id": chat,
        "chat_kind": kind,
        "sender_id": sender,
        "sender_kind": jids.sender_kind(sender),
        "from_number": jids.phone(sender) or _alternate_phone(payload),
        "to_number": jids.phone(payload.get("to")) if kind == events.CHAT_DIRECT else "",
    }


def parse(data: dict[str, Any]) -> list[InboundEvent]:
    """Events of one WAHA webhook body (``{"id", "timestamp", "event", "session", "payload"}``)."""
    payload = data.get("payload") if isinstance(data.get("payload"), dict) else {}
    event = str(data.get("event", ""))
    event_id = str(data.get("id", ""))
    occurred_at = _ms_timestamp(data.get("timestamp"))
    if event == "message":
        return _inbound(payload, event_id, occurred_at, data)
    if event == "message.reaction":
        if payload.get("fromMe"):
            return []
        reaction = payload.get("reaction") if isinstance(payload.get("reaction"), dict) else {}
        message_id = str(payload.get("id", ""))
        return [InboundEvent(
            kind=events.REACTION, event_id=event_id or message_id, provider_message_id=message_id,
            related_message_id=str(reaction.get("messageId", "")), reaction=Reaction(emoji=str(reaction.get("text") or "")),
            occurred_at=occurred_at, raw=data, **_addresses(payload),
        )]
    if event == "message.ack":
        if payload.get("fromMe") is False:  # an ack of a message someone sent us: nothing of ours moves
            return []
        ack_name = str(payload.get("ackName") or ACK_NAMES.get(payload.get("ack"), "")).upper()
        status = ACK_MAP.get(ack_name)
        if status is None:
            return []
        failed = status == events.STATUS_FAILED
        return [InboundEvent(
            kind=events.MESSAGE_STATUS, event_id=event_id, provider_message_id=str(payload.get("id", "")),
            status=status, provider_status=ack_name.lower(), occurred_at=occurred_at, raw=data,
            error_code="ack_error" if failed else "",
            error_message="The bridge reported a delivery error." if failed else "",
        )]
    if event == "session.status":
        bridge_status = str(payload.get("status", "")).upper()
        return [InboundEvent(
            kind=events.SESSION_STATUS, event_id=event_id, status=SESSION_STATUS_MAP.get(bridge_status, "unknown"),
            provider_status=bridge_status, occurred_at=occurred_at,
            raw={"session": data.get("session"), "status": bridge_status},
        )]
    return []


def _inbound(payload: dict[str, Any], event_id: str, occurred_at: datetime | None, data: dict[str, Any]) -> list[InboundEvent]:
    if payload.get("fromMe"):
        return []
    body = str(payload.get("body") or "")
    media = payload.get("media") if isinstance(payload.get("media"), dict) else {}
    attachments: tuple[Attachment, ...] = ()
    if payload.get("hasMedia") and media.get("url"):
        # WAHA puts a media message's caption in ``body`` (extractBody reads the caption).
        attachments = (Attachment(url=str(media["url"]), mime_type=str(media.get("mimetype") or ""),
                                  filename=str(media.get("filename") or ""), caption=body),)
    message_id = sent_message_id(payload)
    return [InboundEvent(
        kind=events.INBOUND_MESSAGE, event_id=event_id or message_id, provider_message_id=message_id,
        body=body, attachments=attachments, occurred_at=occurred_at, raw=data, **_addresses(payload),
    )]


def _ms_timestamp(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


__all__ = ["ACK_MAP", "SESSION_HEALTH", "SESSION_STATUS_MAP", "WEBHOOK_EVENTS", "parse", "sent_message_id"]
