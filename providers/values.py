"""The value objects adapters take and return, and the enums they speak in. No behaviour
beyond small conveniences; nothing here touches the network or the database."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import phonenumbers

from providers import events
from providers.content import (
    HangupResult,
    InteractiveMessage,
    InteractiveReply,
    ListRow,
    ListSection,
    MediaContent,
    ProviderTemplate,
    Reaction,
    ReplyButton,
    SystemNotice,
    TemplateButton,
    TemplateButtonValue,
    TemplateCategory,
    TemplateHeader,
    TemplateMapping,
    TemplateMessage,
    TemplateStatus,
    placeholders,
    render,
)


class Channel(StrEnum):
    WHATSAPP = "whatsapp"
    VOIP = "voip"


class Stability(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class HealthStatus(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    DOWN = "down"
    UNKNOWN = "unknown"


ATTACHMENT_KINDS = ("image", "document", "audio", "video")


@dataclass(frozen=True)
class Attachment:
    url: str
    mime_type: str = ""
    caption: str = ""
    filename: str = ""

    @property
    def kind(self) -> str:
        major = self.mime_type.split("/", 1)[0]
        return major if major in ("image", "audio", "video") else "document"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Attachment:
        return cls(
            url=str(data.get("url", "")),
            mime_type=str(data.get("mime_type", "")),
            caption=str(data.get("caption", "")),
            filename=str(data.get("filename", "")),
        )


@dataclass(frozen=True)
class OutboundMessage:
    """One message to send: free text (``body``, ``attachments``), or a ``template``, or an
    ``interactive`` message (then ``body`` is ignored: the template or message carries it)."""

    to: str
    body: str = ""
    attachments: tuple[Attachment, ...] = ()
    reference: str | None = None
    # Our own message id; providers that accept a client reference get it for tracing.
    client_reference: str | None = None
    status_callback_url: str | None = None
    template: TemplateMessage | None = None
    interactive: InteractiveMessage | None = None


@dataclass(frozen=True)
class OutboundCall:
    """A call to place. Instructions are TwiML (``twiml``) or a URL that serves TwiML
    (``url``); adapters without TwiML translate what they can (see each adapter)."""

    to: str
    from_number: str | None = None
    twiml: str | None = None
    url: str | None = None
    client_reference: str | None = None
    status_callback_url: str | None = None


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str
    status: str = events.STATUS_SENT
    cost: Decimal | None = None
    currency: str | None = None
    latency_ms: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CallResult:
    """A placed call (``place_call``) or a call as the provider reports it (``fetch_call``).
    ``cost``/``currency`` only when the provider states a price; ``duration_seconds`` once
    the call ended."""

    provider_call_id: str
    status: str = events.CALL_INITIATED
    cost: Decimal | None = None
    currency: str | None = None
    latency_ms: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)
    duration_seconds: int | None = None


@dataclass(frozen=True)
class ProviderHealth:
    status: HealthStatus
    latency_ms: int | None = None
    detail: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == HealthStatus.HEALTHY


@dataclass(frozen=True)
class WebhookRequest:
    """What an adapter sees of an incoming webhook: no Django request object."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes = b""
    query: Mapping[str, list[str]] = field(default_factory=dict)
    form: Mapping[str, list[str]] = field(default_factory=dict)

    def header(self, name: str, default: str = "") -> str:
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return default


@dataclass(frozen=True)
class InboundEvent:
    """A normalized event parsed from a webhook; ``kind`` is one of ``providers.events``.

    Addresses: ``from_number`` / ``to_number`` are phone numbers in E.164 and are empty when
    the provider gave none (a group, a ``…@lid`` sender without its phone). ``chat_id`` is the
    conversation as the provider names it (a phone for official APIs, ``…@c.us``, ``…@g.us``,
    ``…@lid`` for bridges), ``chat_kind`` one of ``events.CHAT_*``; ``sender_id`` who wrote, as
    the provider names them (in a group: the member), ``sender_kind`` one of
    ``events.SENDER_*``. ``provider_status`` is the provider's own status word when ours is
    coarser (``played`` reported as ``read``).
    """

    kind: str
    event_id: str = ""
    provider_message_id: str = ""
    status: str = ""
    from_number: str = ""
    to_number: str = ""
    body: str = ""
    attachments: tuple[Attachment, ...] = ()
    error_code: str = ""
    error_message: str = ""
    duration_seconds: int | None = None
    cost: Decimal | None = None
    currency: str | None = None
    occurred_at: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)
    chat_id: str = ""
    chat_kind: str = ""
    sender_id: str = ""
    sender_kind: str = ""
    provider_status: str = ""
    # The message this event refers to: the one reacted to, or the one a reply answers.
    related_message_id: str = ""
    reply: InteractiveReply | None = None
    reaction: Reaction | None = None
    system: SystemNotice | None = None


@dataclass(frozen=True)
class WebhookResponse:
    """What the webhook endpoint answers when an adapter has something to say (handshakes)."""

    status: int = 200
    body: str = ""
    content_type: str = "text/plain"


def phone_or_empty(value: Any) -> str:
    """E.164 when ``value`` is a valid phone number (with or without ``+``), else ""."""
    text = str(value or "").strip()
    if not text:
        return ""
    try:
        return normalize_phone(text if text.startswith("+") else f"+{text}")
    except ValueError:
        return ""


def normalize_phone(value: str) -> str:
    """E.164 for a phone number, or ``ValueError`` with a readable reason."""
    try:
        parsed = phonenumbers.parse(str(value), None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"'{value}' is not a phone number in E.164 form (+<country><number>).") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(f"'{value}' is not a valid phone number.")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


SECRET_MASK = "••••"


def mask_secret(value: Any, *, visible: int = 4) -> str:
    """``••••8901`` for long values, ``••••`` for short ones: a hint, never the secret."""
    text = "" if value is None else str(value)
    if len(text) >= 12:
        return SECRET_MASK + text[-visible:]
    return SECRET_MASK if text else ""


__all__ = [
    "ATTACHMENT_KINDS",
    "Attachment",
    "CallResult",
    "Channel",
    "HangupResult",
    "HealthStatus",
    "InboundEvent",
    "InteractiveMessage",
    "InteractiveReply",
    "ListRow",
    "ListSection",
    "MediaContent",
    "OutboundCall",
    "OutboundMessage",
    "ProviderHealth",
    "ProviderTemplate",
    "Reaction",
    "ReplyButton",
    "SECRET_MASK",
    "SendResult",
    "Stability",
    "SystemNotice",
    "TemplateButton",
    "TemplateButtonValue",
    "TemplateCategory",
    "TemplateHeader",
    "TemplateMapping",
    "TemplateMessage",
    "TemplateStatus",
    "WebhookRequest",
    "WebhookResponse",
    "mask_secret",
    "normalize_phone",
    "phone_or_empty",
    "placeholders",
    "render",
]
