"""What a webhook parser hands on, made safe to store.

A webhook body is whatever anyone who knows the URL sends (and, once signed, whatever the
provider or a bridge sends): ids with NUL bytes, numbers of 400 digits, timestamps in the year
300000, payloads nested a thousand deep. ``clean_events`` turns a parser's output into events
every field of which fits its column: text without NUL or lone surrogates and cut to its
column's length, counts and money inside what the database stores, dates in a sane range, and
``raw`` a small JSON tree (or a marker saying it was too large). Anything that is not a list of
``InboundEvent`` is refused as a malformed body.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from providers.errors import ProviderRejected
from providers.values import Attachment, InboundEvent, InteractiveReply, Reaction, SystemNotice

MAX_EVENTS = 500
MAX_RAW_DEPTH = 12
MAX_RAW_VALUES = 2000
MAX_RAW_TEXT = 16_000
MAX_DURATION_SECONDS = 10**7
MAX_COST = Decimal("99999999")  # the cost columns hold 14 digits with 6 decimals
EARLIEST, LATEST = datetime(2000, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)
# Column lengths of the fields (integrations.models) the events are written to.
LIMITS = {
    "kind": 32, "event_id": 255, "provider_message_id": 255, "status": 32, "from_number": 64,
    "to_number": 64, "body": 65_536, "error_code": 64, "error_message": 2000,
    # Addresses and references (providers.values.InboundEvent): ids as long as a provider id.
    "chat_id": 255, "chat_kind": 16, "sender_id": 255, "sender_kind": 16, "provider_status": 64,
    "related_message_id": 255,
}


def clean_text(value: Any, limit: int) -> str:
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    text = text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    return text[:limit]


def clean_cost(value: Any) -> Decimal | None:
    """A money amount the cost columns can hold (six decimals), or None."""
    if value is None:
        return None
    try:
        amount = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError):
        return None
    if not amount.is_finite() or not 0 <= abs(amount) <= MAX_COST:
        return None
    return abs(amount).quantize(Decimal("0.000001"))


def _duration(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if not math.isfinite(number) or not 0 <= number <= MAX_DURATION_SECONDS:
        return None
    return int(number)


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return moment if EARLIEST <= moment <= LATEST else None


def clean_raw(value: Any) -> Any:
    """A bounded, JSON-safe copy of ``value``; ``{"truncated": true}`` when it is too large."""
    budget = {"values": MAX_RAW_VALUES, "text": MAX_RAW_TEXT}
    try:
        return _copy(value, 0, budget)
    except _TooLarge:
        return {"truncated": True}


class _TooLarge(Exception):
    pass


def _copy(value: Any, depth: int, budget: dict[str, int]) -> Any:
    budget["values"] -= 1
    if budget["values"] < 0 or depth > MAX_RAW_DEPTH:
        raise _TooLarge
    if isinstance(value, dict):
        return {clean_text(k, 200): _copy(v, depth + 1, budget) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_copy(v, depth + 1, budget) for v in value]
    if isinstance(value, str):
        budget["text"] -= len(value)
        if budget["text"] < 0:
            raise _TooLarge
        return clean_text(value, MAX_RAW_TEXT)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**53 else str(value)[:64]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return clean_text(value, 200)


def clean_event(event: InboundEvent) -> InboundEvent:
    texts = {name: clean_text(getattr(event, name), limit) for name, limit in LIMITS.items()}
    attachments = tuple(
        Attachment(
            url=clean_text(a.url, 2048), mime_type=clean_text(a.mime_type, 100),
            caption=clean_text(a.caption, 4096), filename=clean_text(a.filename, 255),
        )
        for a in tuple(event.attachments or ())[:10]
        if isinstance(a, Attachment)
    )
    currency = event.currency if isinstance(event.currency, str) and len(event.currency) == 3 and event.currency.isalpha() else None
    reply = event.reply if isinstance(event.reply, InteractiveReply) else None
    reaction = event.reaction if isinstance(event.reaction, Reaction) else None
    system = event.system if isinstance(event.system, SystemNotice) else None
    return replace(
        event,
        **texts,
        reply=InteractiveReply(kind=clean_text(reply.kind, 32), id=clean_text(reply.id, 256), title=clean_text(reply.title, 256),
                               description=clean_text(reply.description, 256)) if reply else None,
        reaction=Reaction(emoji=clean_text(reaction.emoji, 32)) if reaction else None,
        system=SystemNotice(type=clean_text(system.type, 64), body=clean_text(system.body, 4096),
                            new_id=clean_text(system.new_id, 64)) if system else None,
        attachments=attachments,
        duration_seconds=_duration(event.duration_seconds),
        cost=clean_cost(event.cost),
        currency=currency,
        occurred_at=_moment(event.occurred_at),
        raw=clean_raw(event.raw) if isinstance(event.raw, dict) else {},
    )


def clean_events(parsed: Any, *, provider: str) -> list[InboundEvent]:
    if not isinstance(parsed, list | tuple) or not all(isinstance(event, InboundEvent) for event in parsed):
        raise ProviderRejected(f"{provider} webhook body could not be read.", code="malformed")
    if len(parsed) > MAX_EVENTS:
        raise ProviderRejected(f"{provider} webhook carries more than {MAX_EVENTS} events.", code="malformed")
    return [clean_event(event) for event in parsed]


__all__ = ["clean_cost", "clean_event", "clean_events", "clean_raw", "clean_text"]
