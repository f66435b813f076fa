"""Telnyx Call Control (``https://api.telnyx.com/v2``).

Dial with ``POST /v2/calls``; health reads ``GET /v2/balance`` (the cheapest authenticated read;
the endpoint is Telnyx's documented account balance, not named in the contract summary).
Webhooks are signed with Ed25519 over ``"<timestamp>|<raw body>"`` and must be at most
``WEBHOOK_TOLERANCE_SECONDS`` old.

*Unverified* (kept configurable or conservative): the hang-up causes mapped to busy / no answer
below, and the use of ``start_time`` / ``end_time`` of ``call.hangup`` for the duration.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from datetime import datetime
from typing import Any

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from providers import events
from providers.base import VoipProvider
from providers.catalog import CATALOG
from providers.config import ConfigField
from providers.errors import (
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
    WebhookSignatureError,
)
from providers.http import (
    HTTP_CONFIG_FIELDS,
    HttpAdapterMixin,
    base_url_field,
    error_body,
    transient_status,
)
from providers.values import (
    CallResult,
    HealthStatus,
    InboundEvent,
    OutboundCall,
    ProviderHealth,
    Stability,
    WebhookRequest,
    normalize_phone,
)

DEFAULT_BASE_URL = "https://api.telnyx.com"
SIGNATURE_HEADER = "telnyx-signature-ed25519"
TIMESTAMP_HEADER = "telnyx-timestamp"
WEBHOOK_TOLERANCE_SECONDS = 300

EVENT_MAP = {
    "call.initiated": events.CALL_INITIATED,
    "call.ringing": events.CALL_RINGING,
    "call.answered": events.CALL_ANSWERED,
    "call.bridged": events.CALL_ANSWERED,
    "call.hangup": events.CALL_COMPLETED,
}
HANGUP_CAUSE_MAP = {
    "user_busy": events.CALL_BUSY,
    "busy": events.CALL_BUSY,
    "no_answer": events.CALL_NO_ANSWER,
    "timeout": events.CALL_NO_ANSWER,
    "originator_cancel": events.CALL_NO_ANSWER,
    "call_rejected": events.CALL_FAILED,
    "unallocated_number": events.CALL_FAILED,
}


def load_public_key(value: str) -> Ed25519PublicKey:
    try:
        raw = base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("The public key must be base64.") from None
    if len(raw) != 32:
        raise ValueError("The public key must be 32 bytes (44 base64 characters).")
    return Ed25519PublicKey.from_public_bytes(raw)


class Telnyx(HttpAdapterMixin, VoipProvider):
    name = "telnyx"
    display_name = "Telnyx"
    description = "Outbound calls through Telnyx Call Control."
    official = True
    stability = Stability.HIGH
    pricing = CATALOG["telnyx"]
    features = frozenset({"status_callbacks"})
    default_base_url = DEFAULT_BASE_URL
    http_label = "Telnyx"

    config_fields = (
        ConfigField("api_key", "API key", secret=True, help_text="A Telnyx API v2 key."),
        ConfigField("connection_id", "Call Control connection ID", help_text="The Call Control application (connection) to dial through."),
        ConfigField("from_number", "Caller ID", kind="phone", help_text="A Telnyx number on that connection, E.164."),
        ConfigField("public_key", "Webhook public key", help_text="Base64 Ed25519 public key from the Telnyx portal; verifies webhooks."),
        base_url_field(DEFAULT_BASE_URL),
        *HTTP_CONFIG_FIELDS,
    )

    @classmethod
    def clean_config(cls, config, credentials):
        errors = {}
        key = config.get("public_key")
        if key:
            try:
                load_public_key(key)
            except ValueError as exc:
                errors["public_key"] = str(exc)
        connection = config.get("connection_id")
        if connection and not str(connection).replace("-", "").isalnum():
            errors["connection_id"] = "A connection ID is letters, digits and dashes."
        return errors

    def auth_kwargs(self) -> dict[str, Any]:
        return {"headers": {"Authorization": f"Bearer {self.secret('api_key')}"}}

    def classify_error(self, response: requests.Response) -> ProviderError:
        first_error = (error_body(response).get("errors") or [{}])[0] or {}
        code = str(first_error.get("code") or "") or None
        message = str(first_error.get("detail") or first_error.get("title") or f"HTTP {response.status_code}")
        status = response.status_code
        if transient_status(status):
            return ProviderUnavailable(f"Telnyx: {message}", code=code or status, status=status)
        # 401/403: our key or account; 404: the connection or number is not ours.
        fail_over = status in (401, 403, 404)
        return ProviderRejected(f"Telnyx refused: {message}", code=code or status, status=status, fail_over=fail_over)

    def dial(self, call: OutboundCall) -> CallResult:
        try:
            to = normalize_phone(call.to)
        except ValueError as exc:
            raise ProviderRejected(str(exc), code="invalid_recipient") from None
        payload: dict[str, Any] = {
            "to": to,
            "from": call.from_number or str(self.setting("from_number")),
            "connection_id": str(self.setting("connection_id")),
        }
        callback = call.status_callback_url or self.webhook_url
        if callback:
            payload["webhook_url"] = callback
        if call.client_reference:
            payload["client_state"] = base64.b64encode(call.client_reference.encode()).decode()
        data = self.request_json("POST", "/v2/calls", json=payload)
        call_id = ((data or {}).get("data") or {}).get("call_control_id") if isinstance(data, dict) else None
        if not call_id:
            raise ProviderUnavailable("Telnyx accepted the call but returned no call_control_id.", code="malformed_response")
        return CallResult(provider_call_id=str(call_id), status=events.CALL_INITIATED, raw=data)

    def check_health(self) -> ProviderHealth:
        data = self.request_json("GET", "/v2/balance")
        balance = (data.get("data") or {}) if isinstance(data, dict) else {}
        available = balance.get("available_credit", balance.get("balance"))
        try:
            funded = float(available) > 0
        except (TypeError, ValueError):
            funded = True
        status = HealthStatus.HEALTHY if funded else HealthStatus.DEGRADED
        detail = f"Telnyx account reachable; available credit {available} {balance.get('currency', '')}".strip()
        return ProviderHealth(status=status, detail=detail)

    # ----- webhooks

    def verify_webhook(self, request: WebhookRequest) -> None:
        key_text = self.setting("public_key")
        if not key_text:
            raise WebhookSignatureError("Telnyx webhook cannot be verified: no public key is configured.")
        signature_text = request.header(SIGNATURE_HEADER)
        timestamp = request.header(TIMESTAMP_HEADER)
        if not signature_text or not timestamp:
            raise WebhookSignatureError("Telnyx webhook without signature or timestamp headers.")
        try:
            sent_at = int(timestamp)
        except ValueError:
            raise WebhookSignatureError("Telnyx webhook timestamp is not a number.") from None
        if abs(time.time() - sent_at) > WEBHOOK_TOLERANCE_SECONDS:
            raise WebhookSignatureError("Telnyx webhook timestamp is outside the 300-second window.")
        try:
            signature = base64.b64decode(signature_text, validate=True)
            public_key = load_public_key(key_text)
            public_key.verify(signature, timestamp.encode() + b"|" + request.body)
        except (binascii.Error, ValueError, InvalidSignature):
            raise WebhookSignatureError("Telnyx webhook signature does not match.") from None

    def parse_webhook(self, request: WebhookRequest) -> list[InboundEvent]:
        try:
            data = (json.loads(request.body) or {}).get("data") or {}
        except (ValueError, AttributeError):
            raise ProviderRejected("Telnyx webhook body is not a JSON object.", code="malformed") from None
        event_type = str(data.get("event_type", ""))
        status = EVENT_MAP.get(event_type)
        if status is None:
            return []
        payload = data.get("payload") or {}
        duration = None
        if event_type == "call.hangup":
            status = HANGUP_CAUSE_MAP.get(str(payload.get("hangup_cause", "")), events.CALL_COMPLETED)
            duration = _duration(payload.get("start_time"), payload.get("end_time"))
        return [
            InboundEvent(
                kind=events.CALL_STATUS,
                event_id=str(data.get("id", "")),
                provider_message_id=str(payload.get("call_control_id", "")),
                status=status,
                from_number=str(payload.get("from", "")),
                to_number=str(payload.get("to", "")),
                duration_seconds=duration,
                error_code=str(payload.get("hangup_cause", "")) if status == events.CALL_FAILED else "",
                occurred_at=_parse_time(data.get("occurred_at")),
                raw=data,
            )
        ]


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _duration(start: Any, end: Any) -> int | None:
    started, ended = _parse_time(start), _parse_time(end)
    if started is None or ended is None:
        return None
    return max(int((ended - started).total_seconds()), 0)


__all__ = ["Telnyx", "load_public_key"]
