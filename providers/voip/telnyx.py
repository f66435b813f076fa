"""Telnyx Call Control (``https://api.telnyx.com/v2``).

Dial with ``POST /v2/calls``; health reads ``GET /v2/balance`` (the cheapest authenticated read;
the endpoint is Telnyx's documented account balance, not named in the contract summary).
Webhooks are signed with Ed25519 over ``"<timestamp>|<raw body>"`` and must be at most
``WEBHOOK_TOLERANCE_SECONDS`` old; what they say is read in ``providers.voip.telnyx_events``.

Call instructions: Call Control runs commands we send during the call, not TwiML. The call's
TwiML (or the integration's ``default_twiml``) is translated (``providers.voip.twiml``) into a
script carried in ``client_state``; on ``call.answered`` ``continue_call`` sends the first
command (``POST /v2/calls/<id>/actions/speak`` with ``payload``/``voice``/``language``,
``actions/playback_start`` with ``audio_url``, ``actions/hangup``), and each
``call.speak.ended`` / ``call.playback.ended`` the next, every command with a ``command_id``
so a redelivered webhook cannot run a step twice. TwiML Call Control cannot carry (``Gather``,
``Dial``, a TwiML URL it would have to fetch) is refused with
``ProviderRejected(code="instructions_not_supported", fail_over=True)``: delivery tries the next
integration instead of dialing a silent call.

Hang-up: ``POST /v2/calls/<id>/actions/hangup`` (works while ringing too; Telnyx then reports
``originator_cancel``). Cost: the ``call.cost`` webhook (``total_cost``).

*Unverified*: the ``client_state`` size limit (we refuse scripts over 4 KB encoded); the error
Telnyx answers for a hang-up of a call that already ended (read as 422 with code 90018, and
reported as ``already_ended``); how Telnyx voices map to TwiML ``voice`` names (``Polly.X``
becomes ``AWS.Polly.X``; others use the integration's ``speak_voice``).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import Any
from urllib.parse import quote

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from providers import events, features
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
    HangupResult,
    HealthStatus,
    InboundEvent,
    OutboundCall,
    ProviderHealth,
    Stability,
    WebhookRequest,
    normalize_phone,
)
from providers.voip import telnyx_events, twiml

DEFAULT_BASE_URL = "https://api.telnyx.com"
SIGNATURE_HEADER = "telnyx-signature-ed25519"
TIMESTAMP_HEADER = "telnyx-timestamp"
WEBHOOK_TOLERANCE_SECONDS = 300

ALREADY_ENDED_CODES = frozenset({"90018"})
# A call control id (``v3:…``) goes into the path as an RFC 3986 segment, ``:`` unescaped, as
# the SDK's ``path_template`` does.
SEGMENT_SAFE = ":@!$&'()*+,;="
# A speak or playback that ended because the call ended (or was cancelled): nothing follows.
STOPPED = frozenset({"call_hangup", "cancelled", "cancelled_amd"})


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
    # Telnyx: 30 dials per second per account by default (its "Dials Per Second Limit" page).
    default_send_rate_limit = 30
    features = frozenset({
        features.STATUS_CALLBACKS, features.CALL_INSTRUCTIONS, features.CALL_SCRIPTS, features.HANGUP, features.CALL_COST,
    })
    default_base_url = DEFAULT_BASE_URL
    http_label = "Telnyx"

    config_fields = (
        ConfigField("api_key", "API key", secret=True, help_text="A Telnyx API v2 key."),
        ConfigField("connection_id", "Call Control connection ID", help_text="The Call Control application (connection) to dial through."),
        ConfigField("from_number", "Caller ID", kind="phone", help_text="A Telnyx number on that connection, E.164."),
        ConfigField("public_key", "Webhook public key", help_text="Base64 Ed25519 public key from the Telnyx portal; verifies webhooks."),
        ConfigField("default_twiml", "Default instructions (TwiML)", required=False,
                    help_text="Used when a call brings none: <Say>, <Play>, <Pause>, <Hangup> are carried out."),
        ConfigField("speak_voice", "Voice", required=False, default="female",
                    help_text="Telnyx voice for <Say>, e.g. female, male or AWS.Polly.Joanna-Neural."),
        ConfigField("speak_language", "Language", required=False, default="en-US", help_text="Language for <Say>, e.g. en-US."),
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
        if config.get("default_twiml"):
            try:
                twiml.translate(str(config["default_twiml"]))
            except twiml.InstructionsNotCarried as exc:
                errors["default_twiml"] = str(exc)
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

    def call_script(self, call: OutboundCall) -> list[twiml.Step]:
        """The call's instructions as Call Control steps, or a refusal that lets delivery fail
        over to a provider that can carry them."""
        if call.url:
            raise ProviderRejected(
                "Telnyx Call Control cannot fetch TwiML from a URL; give the call inline TwiML.",
                code=events.ERROR_INSTRUCTIONS_UNSUPPORTED, fail_over=True,
            )
        markup = call.twiml or self.setting("default_twiml")
        if not markup:
            raise ProviderRejected(
                "Telnyx needs call instructions: give the call TwiML, or set default instructions on the integration.",
                code=events.ERROR_NO_INSTRUCTIONS, fail_over=True,
            )
        try:
            return twiml.translate(str(markup))
        except twiml.InstructionsNotCarried as exc:
            raise ProviderRejected(f"Telnyx cannot carry these instructions: {exc}",
                                   code=events.ERROR_INSTRUCTIONS_UNSUPPORTED, fail_over=True) from None

    def dial(self, call: OutboundCall) -> CallResult:
        try:
            to = normalize_phone(call.to)
        except ValueError as exc:
            raise ProviderRejected(str(exc), code="invalid_recipient") from None
        steps = self.call_script(call)
        try:
            state = telnyx_events.encode_state({"r": call.client_reference or "", "s": [s.as_list() for s in steps], "i": 0})
        except ValueError as exc:
            raise ProviderRejected(str(exc), code=events.ERROR_INSTRUCTIONS_UNSUPPORTED, fail_over=True) from None
        payload: dict[str, Any] = {
            "to": to,
            "from": call.from_number or str(self.setting("from_number")),
            "connection_id": str(self.setting("connection_id")),
            "client_state": state,
        }
        callback = call.status_callback_url or self.webhook_url
        if callback:
            payload["webhook_url"] = callback
        data = self.request_json("POST", "/v2/calls", json=payload)
        call_id = ((data or {}).get("data") or {}).get("call_control_id") if isinstance(data, dict) else None
        if not call_id:
            raise ProviderUnavailable("Telnyx accepted the call but returned no call_control_id.", code="malformed_response")
        return CallResult(provider_call_id=str(call_id), status=events.CALL_INITIATED, raw=data)

    # ----- during the call

    def _command(self, call_id: str, action: str, body: dict[str, Any]) -> None:
        self.request_json("POST", f"/v2/calls/{quote(call_id, safe=SEGMENT_SAFE)}/actions/{action}", json=body)

    def continue_call(self, event: InboundEvent) -> None:
        """Run the next step of the call's script on ``call.answered`` and each finished step."""
        data = event.raw if isinstance(event.raw, dict) else {}
        payload = data.get("payload") if isinstance(data.get("payload"), dict) else {}
        event_type = str(data.get("event_type", ""))
        if event_type == "call.answered":
            state = telnyx_events.decode_state(payload.get("client_state"))
            answered = telnyx_events.parse_time(data.get("occurred_at"))
            state.update(i=0, a=int(answered.timestamp()) if answered else int(time.time()))
        elif event_type in telnyx_events.PROGRESS_EVENTS and payload.get("status") not in STOPPED:
            state = telnyx_events.decode_state(payload.get("client_state"))
        else:
            return
        steps = telnyx_events.script(state)
        index = int(state.get("i") or 0)
        call_id = str(payload.get("call_control_id") or event.provider_message_id)
        if not steps or not call_id:
            return
        step = steps[index] if index < len(steps) else twiml.Step("hangup")
        state["i"] = index + 1
        body: dict[str, Any] = {"client_state": telnyx_events.encode_state(state), "command_id": f"switchboard-{index}"}
        if step.action == "speak":
            body.update(payload=step.text, voice=self._voice(step.voice), language=step.language or self.setting("speak_language"))
            if step.ssml:
                body["payload_type"] = "ssml"
            if step.loop > 1:
                body["loop"] = step.loop
            self._command(call_id, "speak", body)
        elif step.action == "play":
            body.update(audio_url=step.url, **({"loop": step.loop} if step.loop > 1 else {}))
            self._command(call_id, "playback_start", body)
        else:
            self._command(call_id, "hangup", body)

    def _voice(self, twiml_voice: str) -> str:
        if twiml_voice.startswith("Polly."):
            return f"AWS.{twiml_voice}"
        return str(self.setting("speak_voice") or "female")

    def end_call(self, provider_call_id: str) -> HangupResult:
        try:
            data = self.request_json("POST", f"/v2/calls/{quote(provider_call_id, safe=SEGMENT_SAFE)}/actions/hangup",
                                     json={"command_id": "switchboard-hangup"})
        except ProviderRejected as exc:
            if exc.status == 422 and exc.code in ALREADY_ENDED_CODES:
                return HangupResult(provider_call_id=provider_call_id, already_ended=True)
            raise
        return HangupResult(provider_call_id=provider_call_id, raw=data if isinstance(data, dict) else {})

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
        if not isinstance(data, dict):
            raise ProviderRejected("Telnyx webhook data is not an object.", code="malformed")
        return telnyx_events.parse(data)


__all__ = ["Telnyx", "load_public_key"]
