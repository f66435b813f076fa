"""Telnyx Call Control webhooks → normalized events, and the call state we keep in
``client_state``.

From the official ``telnyx`` SDK models (team-telnyx/telnyx-python, ``src/telnyx/types``):

* ``call.hangup`` (``call_hangup.py``): ``start_time``, ``hangup_cause``, ``hangup_source``,
  ``sip_hangup_cause``, ``client_state``; the event's ``occurred_at`` is when it ended. There is
  **no** ``end_time``. ``hangup_cause`` is one of ``call_rejected``, ``normal_clearing``,
  ``originator_cancel``, ``timeout``, ``time_limit``, ``user_busy``, ``not_found``,
  ``no_answer``, ``unspecified``.
* ``call.cost`` (``call_cost_webhook_event.py``): ``total_cost`` and ``cost_parts[]`` with
  ``currency``, ``billed_duration_secs``; ``status`` success or error.
* ``call.speak.ended`` / ``call.playback.ended``: a command finished (``status``), so the next
  instruction can run.

``client_state`` (base64, "State received from a command"; every command may replace it, and
later webhooks carry the new one) holds our state as JSON: ``r`` the client reference, ``s``
the instruction script, ``i`` the next step, ``a`` when the call was answered (epoch seconds).
A hang-up's duration is ``occurred_at − a`` when we saw the answer, else ``occurred_at −
start_time``; only an answered call (``normal_clearing``, ``time_limit``) has one.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from providers import events
from providers.values import InboundEvent
from providers.voip.twiml import Step

STATUS_EVENTS = {
    "call.initiated": events.CALL_INITIATED,
    "call.answered": events.CALL_ANSWERED,
    "call.bridged": events.CALL_ANSWERED,
}
PROGRESS_EVENTS = frozenset({"call.speak.ended", "call.playback.ended"})
HANGUP_CAUSES = {
    "normal_clearing": events.CALL_COMPLETED,  # answered, then hung up
    "time_limit": events.CALL_COMPLETED,  # answered, ended by the call's time limit
    "user_busy": events.CALL_BUSY,
    "call_rejected": events.CALL_BUSY,  # the callee declined
    "timeout": events.CALL_NO_ANSWER,  # rang out
    "no_answer": events.CALL_NO_ANSWER,
    "originator_cancel": events.CALL_NO_ANSWER,  # we (or the caller) hung up before an answer
    "not_found": events.CALL_FAILED,  # the number does not exist
    "unspecified": events.CALL_FAILED,
}
MAX_STATE_BYTES = 4096


def encode_state(state: dict[str, Any]) -> str:
    text = base64.b64encode(json.dumps(state, separators=(",", ":"), ensure_ascii=False).encode()).decode()
    if len(text) > MAX_STATE_BYTES:
        raise ValueError("The call's instructions do not fit in Telnyx's client_state.")
    return text


def decode_state(value: Any) -> dict[str, Any]:
    """Our state, or {} for a client_state that is not ours (or none)."""
    try:
        state = json.loads(base64.b64decode(str(value or ""), validate=True))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return {}
    return state if isinstance(state, dict) else {}


def script(state: dict[str, Any]) -> list[Step]:
    try:
        return [Step.from_list(values) for values in state.get("s") or []]
    except (TypeError, ValueError):
        return []


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _duration(payload: dict[str, Any], occurred_at: datetime | None) -> int | None:
    answered = decode_state(payload.get("client_state")).get("a")
    started = datetime.fromtimestamp(answered, tz=occurred_at.tzinfo) if isinstance(answered, (int, float)) and occurred_at else None
    started = started or parse_time(payload.get("start_time"))
    if started is None or occurred_at is None:
        return None
    return max(int((occurred_at - started).total_seconds()), 0)


def _money(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None


def parse(data: dict[str, Any]) -> list[InboundEvent]:
    event_type = str(data.get("event_type", ""))
    payload = data.get("payload") if isinstance(data.get("payload"), dict) else {}
    occurred_at = parse_time(data.get("occurred_at"))
    common: dict[str, Any] = {
        "event_id": str(data.get("id", "")),
        "provider_message_id": str(payload.get("call_control_id", "")),
        "from_number": str(payload.get("from", "")),
        "to_number": str(payload.get("to", "")),
        "occurred_at": occurred_at,
        "raw": data,
    }
    if event_type in STATUS_EVENTS:
        return [InboundEvent(kind=events.CALL_STATUS, status=STATUS_EVENTS[event_type], provider_status=event_type, **common)]
    if event_type == "call.hangup":
        cause = str(payload.get("hangup_cause", ""))
        status = HANGUP_CAUSES.get(cause, events.CALL_FAILED)
        answered = status == events.CALL_COMPLETED
        return [InboundEvent(
            kind=events.CALL_STATUS, status=status, provider_status=cause,
            duration_seconds=_duration(payload, occurred_at) if answered else 0,
            error_code="" if answered else cause, error_message=str(payload.get("sip_hangup_cause") or ""),
            **common,
        )]
    if event_type == "call.cost":
        parts = payload.get("cost_parts") if isinstance(payload.get("cost_parts"), list) else []
        currency = next((str(p.get("currency")) for p in parts if isinstance(p, dict) and p.get("currency")), None)
        cost = _money(payload.get("total_cost")) if payload.get("status", "success") == "success" else None
        if cost is None:
            return []
        return [InboundEvent(kind=events.CALL_COST, cost=cost, currency=currency, provider_status="call.cost",
                             duration_seconds=payload.get("billed_duration_secs"), **common)]
    if event_type in PROGRESS_EVENTS:
        return [InboundEvent(kind=events.CALL_PROGRESS, provider_status=f"{event_type}:{payload.get('status', '')}", **common)]
    return []


__all__ = ["HANGUP_CAUSES", "decode_state", "encode_state", "parse", "parse_time", "script"]
