"""WhatsApp Web through a self-hosted WAHA-compatible bridge (unofficial, stability: low).

The bridge keeps a WhatsApp Web session per name; pairing means scanning a QR code the bridge
shows while the session is ``SCAN_QR_CODE``. ``setup`` creates and starts the session with our
webhook URL and HMAC key; ``teardown`` stops it; ``pairing_state`` reports the session and,
while pairing, the QR image.

*Unverified* against a running WAHA: the shape of the send answer (``id`` as a string or as
``{"_serialized": ...}``; both are read), updating an existing session with
``PUT /api/sessions/<name>`` when creation answers 409/422, and the media endpoints
(``sendImage``, ``sendFile``, ``sendVoice``, ``sendVideo`` with a ``file`` object holding a URL;
some of them are WAHA Plus only).

Evolution API is a variant (config ``api`` = ``evolution``): header ``apikey``, instance name
= session name, ``POST /message/sendText/<instance>``, state from
``GET /instance/connectionState/<instance>`` (open / connecting / close, read as WORKING /
SCAN_QR_CODE / STOPPED). Evolution does not sign webhooks, so its webhook URL carries a
``token`` query parameter (the integration's webhook secret) that is compared in constant
time; the ``X-Webhook-Token`` header is accepted too. *Unverified* for Evolution beyond the
contract summary: the media endpoints (``sendMedia``, ``sendWhatsAppAudio``), the QR answer of
``GET /instance/connect/<instance>`` (``base64`` data URL), instance creation and
``POST /webhook/set/<instance>``, and the webhook payloads (``messages.upsert``,
``messages.update``, ``connection.update``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import requests

from providers import events
from providers.base import WhatsAppProvider
from providers.catalog import CATALOG
from providers.config import ConfigField
from providers.errors import (
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
    WebhookSignatureError,
)
from providers.http import HTTP_CONFIG_FIELDS, HttpAdapterMixin, error_body, transient_status
from providers.values import (
    ATTACHMENT_KINDS,
    Attachment,
    HealthStatus,
    InboundEvent,
    OutboundMessage,
    ProviderHealth,
    SendResult,
    Stability,
    WebhookRequest,
    normalize_phone,
)

SIGNATURE_HEADER = "X-Webhook-Hmac"
ALGORITHM_HEADER = "X-Webhook-Hmac-Algorithm"
WEBHOOK_EVENTS = ("message", "message.ack", "session.status")

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
# message.ack: -1 ERROR, 0 PENDING, 1 SERVER, 2 DEVICE, 3 READ, 4 PLAYED.
ACK_MAP = {
    "ERROR": events.STATUS_FAILED,
    "SERVER": events.STATUS_SENT,
    "DEVICE": events.STATUS_DELIVERED,
    "READ": events.STATUS_READ,
    "PLAYED": events.STATUS_READ,
}
ACK_NAMES = {-1: "ERROR", 0: "PENDING", 1: "SERVER", 2: "DEVICE", 3: "READ", 4: "PLAYED"}
MEDIA_ENDPOINTS = {"image": "sendImage", "document": "sendFile", "audio": "sendVoice", "video": "sendVideo"}

API_WAHA = "waha"
API_EVOLUTION = "evolution"
TOKEN_HEADER = "X-Webhook-Token"
# Evolution connection states, read as the WAHA statuses they correspond to.
EVOLUTION_STATES = {"open": "WORKING", "connecting": "SCAN_QR_CODE", "close": "STOPPED"}
EVOLUTION_EVENTS = ("MESSAGES_UPSERT", "MESSAGES_UPDATE", "CONNECTION_UPDATE")
EVOLUTION_ACKS = {
    "ERROR": events.STATUS_FAILED,
    "SERVER_ACK": events.STATUS_SENT,
    "DELIVERY_ACK": events.STATUS_DELIVERED,
    "READ": events.STATUS_READ,
    "PLAYED": events.STATUS_READ,
}


@dataclass(frozen=True)
class PairingState:
    """The bridge session as the admin pairing screen needs it."""

    status: str  # one of providers.events SESSION_*, or "unknown"
    bridge_status: str  # what the bridge said, e.g. SCAN_QR_CODE
    qr_mimetype: str = ""
    qr_base64: str = ""
    detail: str = ""

    @property
    def paired(self) -> bool:
        return self.status == events.SESSION_WORKING


def chat_id(number: str) -> str:
    return f"{number.lstrip('+')}@c.us"


def number_from_chat(chat: Any) -> str:
    text = str(chat or "").split("@", 1)[0]
    return f"+{text}" if text.isdigit() else text


class WhatsAppWebBridge(HttpAdapterMixin, WhatsAppProvider):
    name = "whatsapp_web"
    display_name = "WhatsApp Web (bridge)"
    description = "Unofficial: a self-hosted WAHA bridge driving WhatsApp Web. Numbers can be banned."
    official = False
    stability = Stability.LOW
    pricing = CATALOG["whatsapp_web"]
    attachment_kinds = frozenset(ATTACHMENT_KINDS)
    max_body_length = 65536
    features = frozenset({"qr_pairing", "media"})
    http_label = "WhatsApp Web bridge"

    config_fields = (
        ConfigField("base_url", "Bridge URL", kind="url", destination=True,
                    help_text="Where your WAHA bridge listens, e.g. http://waha:3000."),
        ConfigField("api", "Bridge API", kind="choice", required=False, choices=(API_WAHA, API_EVOLUTION), default=API_WAHA,
                    help_text="WAHA (signed webhooks) or Evolution API (webhooks carry a token)."),
        ConfigField("session", "Session name", required=False, default="default",
                    help_text="The WAHA session or Evolution instance; letters, digits, - and _."),
        ConfigField("api_key", "Bridge API key", secret=True, help_text="Sent as X-Api-Key (WAHA) or apikey (Evolution)."),
        *HTTP_CONFIG_FIELDS,
    )

    @classmethod
    def clean_config(cls, config, credentials):
        session = config.get("session")
        if session and not str(session).replace("-", "").replace("_", "").isalnum():
            return {"session": "A session name is letters, digits, - and _."}
        return {}

    def session_name(self) -> str:
        return str(self.setting("session", "default"))

    def _session_path(self, suffix: str = "") -> str:
        return f"/api/sessions/{quote(self.session_name(), safe='')}{suffix}"

    @property
    def evolution(self) -> bool:
        return self.setting("api", API_WAHA) == API_EVOLUTION

    def _instance(self) -> str:
        return quote(self.session_name(), safe="")

    def auth_kwargs(self) -> dict[str, Any]:
        header = "apikey" if self.evolution else "X-Api-Key"
        return {"headers": {header: self.secret("api_key")}}

    def classify_error(self, response: requests.Response) -> ProviderError:
        body = error_body(response)
        message = str(body.get("message") or body.get("error") or f"HTTP {response.status_code}")
        status = response.status_code
        if transient_status(status):
            return ProviderUnavailable(f"WhatsApp Web bridge: {message}", code=status, status=status)
        # 401/403: our key; 404: the session does not exist on this bridge.
        fail_over = status in (401, 403, 404)
        return ProviderRejected(f"WhatsApp Web bridge refused: {message}", code=status, status=status, fail_over=fail_over)

    # ----- sending

    def deliver_message(self, message: OutboundMessage) -> SendResult:
        try:
            to = normalize_phone(message.to)
        except ValueError as exc:
            raise ProviderRejected(str(exc), code="invalid_recipient") from None
        if len(message.attachments) > 1:
            raise ProviderRejected("The bridge sends one attachment per message.", code="too_many_attachments")
        if self.evolution:
            return self._evolution_send(to, message)
        payload: dict[str, Any] = {"session": self.session_name(), "chatId": chat_id(to)}
        if message.attachments:
            attachment: Attachment = message.attachments[0]
            endpoint = MEDIA_ENDPOINTS[attachment.kind]
            payload["file"] = {"url": attachment.url, "mimetype": attachment.mime_type or "application/octet-stream"}
            if attachment.filename:
                payload["file"]["filename"] = attachment.filename
            caption = attachment.caption or message.body
            if caption:
                if attachment.kind == "audio":
                    raise ProviderRejected("Voice messages cannot carry text; send the text separately.", code="caption_not_supported")
                payload["caption"] = caption
        else:
            endpoint = "sendText"
            payload["text"] = message.body
        data = self.request_json("POST", f"/api/{endpoint}", json=payload)
        provider_id = _message_id(data)
        if not provider_id:
            raise ProviderUnavailable("The bridge accepted the message but returned no id.", code="malformed_response")
        return SendResult(provider_message_id=provider_id, status=events.STATUS_SENT, raw=data if isinstance(data, dict) else {})

    def _evolution_send(self, to: str, message: OutboundMessage) -> SendResult:
        payload: dict[str, Any] = {"number": to.lstrip("+")}
        if message.attachments:
            attachment = message.attachments[0]
            caption = attachment.caption or message.body
            if attachment.kind == "audio":
                if caption:
                    raise ProviderRejected("Voice messages cannot carry text; send the text separately.", code="caption_not_supported")
                path, payload["audio"] = f"/message/sendWhatsAppAudio/{self._instance()}", attachment.url
            else:
                path = f"/message/sendMedia/{self._instance()}"
                payload.update(mediatype=attachment.kind, media=attachment.url, mimetype=attachment.mime_type or "application/octet-stream")
                if caption:
                    payload["caption"] = caption
                if attachment.filename:
                    payload["fileName"] = attachment.filename
        else:
            path, payload["text"] = f"/message/sendText/{self._instance()}", message.body
        data = self.request_json("POST", path, json=payload)
        provider_id = str(((data or {}).get("key") or {}).get("id") or "") if isinstance(data, dict) else ""
        if not provider_id:
            raise ProviderUnavailable("The bridge accepted the message but returned no id.", code="malformed_response")
        return SendResult(provider_message_id=provider_id, status=events.STATUS_SENT, raw=data)

    # ----- session

    def session_status(self) -> str:
        """The session's status in WAHA's words (Evolution states are translated)."""
        if self.evolution:
            data = self.request_json("GET", f"/instance/connectionState/{self._instance()}")
            state = str(((data or {}).get("instance") or {}).get("state", "")) if isinstance(data, dict) else ""
            return EVOLUTION_STATES.get(state.lower(), state.upper())
        data = self.request_json("GET", self._session_path())
        return str((data or {}).get("status", "")).upper() if isinstance(data, dict) else ""

    def check_health(self) -> ProviderHealth:
        bridge_status = self.session_status()
        status = SESSION_HEALTH.get(bridge_status, HealthStatus.DEGRADED)
        return ProviderHealth(
            status=status,
            detail=f"Bridge session '{self.session_name()}' is {bridge_status or 'in an unknown state'}.",
            extra={"session_status": bridge_status},
        )

    def session_config(self) -> dict[str, Any]:
        return {
            "webhooks": [
                {"url": self.webhook_url, "events": list(WEBHOOK_EVENTS), "hmac": {"key": self.webhook_secret}},
            ]
        }

    def evolution_webhook_url(self) -> str:
        separator = "&" if "?" in self.webhook_url else "?"
        return f"{self.webhook_url}{separator}{urlencode({'token': self.webhook_secret})}"

    def _evolution_setup(self) -> None:
        webhook = {"enabled": True, "url": self.evolution_webhook_url(), "byEvents": False, "base64": False,
                   "events": list(EVOLUTION_EVENTS)}
        try:
            self.request("POST", "/instance/create", json={
                "instanceName": self.session_name(), "integration": "WHATSAPP-BAILEYS", "qrcode": True, "webhook": webhook,
            })
        except ProviderRejected as exc:
            if exc.status not in (403, 409, 422):
                raise
            self.request("POST", f"/webhook/set/{self._instance()}", json={"webhook": webhook})
            self.request("GET", f"/instance/connect/{self._instance()}")

    def setup(self) -> None:
        """Create and start the session, pointing its webhooks at us; update it if it exists."""
        if self.evolution:
            self._evolution_setup()
            return
        try:
            self.request("POST", "/api/sessions", json={"name": self.session_name(), "start": True, "config": self.session_config()})
        except ProviderRejected as exc:
            if exc.status not in (409, 422):
                raise
            self.request("PUT", self._session_path(), json={"config": self.session_config()})
            self.request("POST", self._session_path("/start"))

    def teardown(self) -> None:
        """Stop the session (WAHA). Evolution has no stop: its instance is logged out, which
        unpairs the phone; pairing again needs a new QR scan."""
        if self.evolution:
            self.request("DELETE", f"/instance/logout/{self._instance()}")
            return
        self.request("POST", self._session_path("/stop"))

    def pairing_state(self) -> PairingState:
        """The session's status and, while it waits for a scan, the QR code as base64 PNG."""
        bridge_status = self.session_status()
        status = SESSION_STATUS_MAP.get(bridge_status, "unknown")
        if bridge_status != "SCAN_QR_CODE":
            return PairingState(status=status, bridge_status=bridge_status)
        if self.evolution:
            data = self.request_json("GET", f"/instance/connect/{self._instance()}")
            image = str((data or {}).get("base64") or "") if isinstance(data, dict) else ""
            mimetype, _, encoded = image.partition(";base64,") if image.startswith("data:") else ("data:image/png", "", image)
            if not encoded:
                raise ProviderUnavailable("The bridge returned no QR image.", code="malformed_response")
            return PairingState(status=status, bridge_status=bridge_status, qr_mimetype=mimetype[5:], qr_base64=encoded)
        data = self.request_json(
            "GET", f"/api/{quote(self.session_name(), safe='')}/auth/qr", headers={"Accept": "application/json"}
        )
        if not isinstance(data, dict) or not data.get("data"):
            raise ProviderUnavailable("The bridge returned no QR image.", code="malformed_response")
        return PairingState(
            status=status,
            bridge_status=bridge_status,
            qr_mimetype=str(data.get("mimetype") or "image/png"),
            qr_base64=str(data["data"]),
        )

    # ----- webhooks

    def verify_webhook(self, request: WebhookRequest) -> None:
        if not self.webhook_secret:
            raise WebhookSignatureError("Bridge webhook cannot be verified: no HMAC key.")
        if self.evolution:
            given = request.header(TOKEN_HEADER) or (request.query.get("token") or [""])[0]
            if not given or not hmac.compare_digest(given.encode(), self.webhook_secret.encode()):
                raise WebhookSignatureError("Bridge webhook token does not match.")
            return
        algorithm = request.header(ALGORITHM_HEADER, "sha512").lower()
        if algorithm != "sha512":
            raise WebhookSignatureError(f"Bridge webhook signed with unsupported algorithm '{algorithm[:20]}'.")
        given = request.header(SIGNATURE_HEADER).strip().lower()
        expected = hmac.new(self.webhook_secret.encode(), request.body, hashlib.sha512).hexdigest()
        if not given or not hmac.compare_digest(given.encode(), expected.encode()):
            raise WebhookSignatureError("Bridge webhook signature does not match.")

    def parse_webhook(self, request: WebhookRequest) -> list[InboundEvent]:
        try:
            data = json.loads(request.body)
            payload = data.get("payload") or {}
        except (ValueError, AttributeError):
            raise ProviderRejected("Bridge webhook body is not a JSON object.", code="malformed") from None
        event = str(data.get("event", ""))
        if self.evolution:
            return _parse_evolution(event, data)
        event_id = str(data.get("id", ""))
        occurred_at = _ms_timestamp(data.get("timestamp"))
        if event == "message":
            if payload.get("fromMe"):
                return []
            media = payload.get("media") or {}
            attachments = ()
            if payload.get("hasMedia") and media.get("url"):
                attachments = (
                    Attachment(url=str(media["url"]), mime_type=str(media.get("mimetype", "")), filename=str(media.get("filename") or "")),
                )
            message_id = _message_id(payload)
            return [
                InboundEvent(
                    kind=events.INBOUND_MESSAGE,
                    event_id=event_id or message_id,
                    provider_message_id=message_id,
                    from_number=number_from_chat(payload.get("from")),
                    to_number=number_from_chat(payload.get("to")),
                    body=str(payload.get("body") or ""),
                    attachments=attachments,
                    occurred_at=occurred_at,
                    raw=data,
                )
            ]
        if event == "message.ack":
            ack_name = str(payload.get("ackName") or ACK_NAMES.get(payload.get("ack"), "")).upper()
            status = ACK_MAP.get(ack_name)
            if status is None:
                return []
            return [
                InboundEvent(
                    kind=events.MESSAGE_STATUS,
                    event_id=event_id,
                    provider_message_id=_message_id(payload),
                    status=status,
                    error_code="ack_error" if status == events.STATUS_FAILED else "",
                    error_message="The bridge reported a delivery error." if status == events.STATUS_FAILED else "",
                    occurred_at=occurred_at,
                    raw=data,
                )
            ]
        if event == "session.status":
            bridge_status = str(payload.get("status", "")).upper()
            return [
                InboundEvent(
                    kind=events.SESSION_STATUS,
                    event_id=event_id,
                    status=SESSION_STATUS_MAP.get(bridge_status, "unknown"),
                    occurred_at=occurred_at,
                    raw={"session": data.get("session"), "status": bridge_status},
                )
            ]
        return []


def _parse_evolution(event: str, data: dict[str, Any]) -> list[InboundEvent]:
    body = data.get("data") or {}
    if not isinstance(body, dict):
        return []
    event = event.lower().replace("_", ".")
    key = body.get("key") or {}
    if event == "messages.upsert":
        if key.get("fromMe"):
            return []
        content = body.get("message") or {}
        text = content.get("conversation") or (content.get("extendedTextMessage") or {}).get("text") or ""
        message_id = str(key.get("id", ""))
        return [InboundEvent(
            kind=events.INBOUND_MESSAGE, event_id=message_id, provider_message_id=message_id,
            from_number=number_from_chat(key.get("remoteJid")), body=str(text),
            occurred_at=_seconds_timestamp(body.get("messageTimestamp")), raw=data,
        )]
    if event == "messages.update":
        status = EVOLUTION_ACKS.get(str(body.get("status", "")).upper())
        message_id = str(body.get("keyId") or key.get("id") or "")
        if status is None or not message_id:
            return []
        return [InboundEvent(
            kind=events.MESSAGE_STATUS, event_id=f"{message_id}:{body.get('status')}", provider_message_id=message_id,
            status=status, error_code="ack_error" if status == events.STATUS_FAILED else "", raw=data,
        )]
    if event == "connection.update":
        bridge_status = EVOLUTION_STATES.get(str(body.get("state", "")).lower(), "")
        return [InboundEvent(
            kind=events.SESSION_STATUS, status=SESSION_STATUS_MAP.get(bridge_status, "unknown"),
            raw={"instance": data.get("instance"), "status": bridge_status},
        )]
    return []


def _seconds_timestamp(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (TypeError, ValueError):
        return None


def _message_id(data: Any) -> str:
    if not isinstance(data, dict):
        return ""
    value = data.get("id")
    if isinstance(value, dict):
        value = value.get("_serialized") or value.get("id")
    return str(value or "")


def _ms_timestamp(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    except (TypeError, ValueError):
        return None


__all__ = ["PairingState", "WhatsAppWebBridge"]
