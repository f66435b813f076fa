"""WhatsApp Web through a self-hosted WAHA-compatible bridge (unofficial, stability: low).

The bridge keeps a WhatsApp Web session per name; pairing means scanning a QR code the bridge
shows while the session is ``SCAN_QR_CODE``. ``setup`` creates and starts the session with our
webhook URL, HMAC key and token header; ``teardown`` stops it; ``pairing_state`` reports the
session and, while pairing, the QR image.

What each engine answers and sends is in ``providers.whatsapp.waha`` (WAHA: WEBJS, NOWEB,
GOWS) and ``providers.whatsapp.evolution`` (Evolution API, config ``api`` = ``evolution``);
addresses (phones, groups, linked ids) in ``providers.whatsapp.jids``.

Templates and interactive messages have no native form on a bridge (and no approval): they
are sent as text, the template rendered, the interactive message as numbered options.

Webhook authenticity: WAHA signs with HMAC-SHA512 when the session's webhook has an
``hmac.key`` (``X-Webhook-Hmac``); ``setup`` also sets a custom header ``X-Webhook-Token``, so a
bridge whose build does not sign is still authenticated. A signature that is present must
match. Evolution does not sign; ``setup`` gives it the same header (``webhook.headers``), and
the ``token`` query parameter of instances set up before is still accepted.

*Unverified* against a running bridge: updating an existing WAHA session with
``PUT /api/sessions/<name>`` when creation answers 409/422; the media endpoints (WAHA
``sendImage``, ``sendFile``, ``sendVoice``, ``sendVideo`` with a ``file`` URL, some WAHA Plus
only; Evolution ``sendMedia``, ``sendWhatsAppAudio``); Evolution's QR answer of
``GET /instance/connect/<instance>`` (``base64`` data URL).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

from providers import events, features
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
    HealthStatus,
    InboundEvent,
    OutboundMessage,
    ProviderHealth,
    SendResult,
    Stability,
    WebhookRequest,
    normalize_phone,
)
from providers.whatsapp import evolution, jids, waha

SIGNATURE_HEADER = "X-Webhook-Hmac"
ALGORITHM_HEADER = "X-Webhook-Hmac-Algorithm"
TOKEN_HEADER = "X-Webhook-Token"
MEDIA_ENDPOINTS = {"image": "sendImage", "document": "sendFile", "audio": "sendVoice", "video": "sendVideo"}
API_WAHA = "waha"
API_EVOLUTION = "evolution"


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
    return jids.for_phone(number)


class WhatsAppWebBridge(HttpAdapterMixin, WhatsAppProvider):
    name = "whatsapp_web"
    display_name = "WhatsApp Web (bridge)"
    description = "Unofficial: a self-hosted WAHA bridge driving WhatsApp Web. Numbers can be banned."
    official = False
    stability = Stability.LOW
    pricing = CATALOG["whatsapp_web"]
    attachment_kinds = frozenset(ATTACHMENT_KINDS)
    max_body_length = 65536
    features = frozenset({
        features.QR_PAIRING, features.MEDIA, features.READ_RECEIPTS, features.REACTIONS,
        features.TEMPLATES, features.INTERACTIVE, features.TEXT_FALLBACK,
    })
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
        status = response.status_code
        code: str | None = None
        if self.evolution:
            message, code = evolution.error_text(body)
        else:
            message = str(body.get("message") or body.get("error") or "")
        message = message or f"HTTP {status}"
        if transient_status(status):
            return ProviderUnavailable(f"WhatsApp Web bridge: {message}", code=status, status=status)
        # 401/403: our key; 404: the session does not exist on this bridge.
        fail_over = status in (401, 403, 404)
        return ProviderRejected(f"WhatsApp Web bridge refused: {message}", code=code or status, status=status, fail_over=fail_over)

    # ----- sending

    @staticmethod
    def outgoing_text(message: OutboundMessage) -> str:
        """What the bridge sends as text: a rendered template, numbered options, or the body."""
        if message.template is not None:
            try:
                text = message.template.rendered_text()
            except ValueError as exc:
                raise ProviderRejected(str(exc), code=events.ERROR_TEMPLATE_PARAMETERS) from None
            if not text:
                raise ProviderRejected("A bridge sends a template as text: give the template its text.",
                                       code=events.ERROR_TEMPLATE_UNAVAILABLE, fail_over=True)
            return text
        if message.interactive is not None:
            return message.interactive.as_text()
        return message.body

    def _post(self, path: str, payload: dict[str, Any]) -> Any:
        """POST a send. The bridge has sent the message once it answers 2xx, so an answer we
        cannot read is still a success (with an unknown id), never a retryable error."""
        response = self.request("POST", path, json=payload)
        try:
            return response.json() if response.content else {}
        except ValueError:
            return {}

    def deliver_message(self, message: OutboundMessage) -> SendResult:
        try:
            to = normalize_phone(message.to)
        except ValueError as exc:
            raise ProviderRejected(str(exc), code="invalid_recipient") from None
        if len(message.attachments) > 1:
            raise ProviderRejected("The bridge sends one attachment per message.", code="too_many_attachments")
        text = self.outgoing_text(message)
        if self.evolution:
            data = self._post(*self._evolution_request(to, message, text))
            provider_id = evolution.sent_message_id(data)
        else:
            data = self._post(*self._waha_request(to, message, text))
            provider_id = waha.sent_message_id(data)
        return SendResult(provider_message_id=provider_id, status=events.STATUS_SENT, raw=data if isinstance(data, dict) else {})

    def _caption(self, message: OutboundMessage, text: str) -> str:
        attachment = message.attachments[0]
        caption = attachment.caption or text
        if caption and attachment.kind == "audio":
            raise ProviderRejected("Voice messages cannot carry text; send the text separately.", code="caption_not_supported")
        return caption

    def _waha_request(self, to: str, message: OutboundMessage, text: str) -> tuple[str, dict[str, Any]]:
        payload: dict[str, Any] = {"session": self.session_name(), "chatId": chat_id(to)}
        if not message.attachments:
            payload["text"] = text
            return "/api/sendText", payload
        attachment = message.attachments[0]
        payload["file"] = {"url": attachment.url, "mimetype": attachment.mime_type or "application/octet-stream"}
        if attachment.filename:
            payload["file"]["filename"] = attachment.filename
        caption = self._caption(message, text)
        if caption:
            payload["caption"] = caption
        return f"/api/{MEDIA_ENDPOINTS[attachment.kind]}", payload

    def _evolution_request(self, to: str, message: OutboundMessage, text: str) -> tuple[str, dict[str, Any]]:
        payload: dict[str, Any] = {"number": to.lstrip("+")}
        if not message.attachments:
            payload["text"] = text
            return f"/message/sendText/{self._instance()}", payload
        attachment = message.attachments[0]
        caption = self._caption(message, text)
        if attachment.kind == "audio":
            payload["audio"] = attachment.url
            return f"/message/sendWhatsAppAudio/{self._instance()}", payload
        payload.update(mediatype=attachment.kind, media=attachment.url, mimetype=attachment.mime_type or "application/octet-stream")
        if caption:
            payload["caption"] = caption
        if attachment.filename:
            payload["fileName"] = attachment.filename
        return f"/message/sendMedia/{self._instance()}", payload

    # ----- session

    def session_status(self) -> str:
        """The session's status in WAHA's words (Evolution states are translated)."""
        if self.evolution:
            data = self.request_json("GET", f"/instance/connectionState/{self._instance()}")
            state = str(((data or {}).get("instance") or {}).get("state", "")) if isinstance(data, dict) else ""
            return evolution.STATES.get(state.lower(), state.upper())
        data = self.request_json("GET", self._session_path())
        return str((data or {}).get("status", "")).upper() if isinstance(data, dict) else ""

    def check_health(self) -> ProviderHealth:
        bridge_status = self.session_status()
        status = waha.SESSION_HEALTH.get(bridge_status, HealthStatus.DEGRADED)
        return ProviderHealth(
            status=status,
            detail=f"Bridge session '{self.session_name()}' is {bridge_status or 'in an unknown state'}.",
            extra={"session_status": bridge_status},
        )

    def session_config(self) -> dict[str, Any]:
        return {
            "webhooks": [{
                "url": self.webhook_url,
                "events": list(waha.WEBHOOK_EVENTS),
                "hmac": {"key": self.webhook_secret},
                "customHeaders": [{"name": TOKEN_HEADER, "value": self.webhook_secret}],
            }]
        }

    def _evolution_setup(self) -> None:
        webhook = {"enabled": True, "url": self.webhook_url, "byEvents": False, "base64": False,
                   "headers": {TOKEN_HEADER: self.webhook_secret}, "events": list(evolution.WEBHOOK_EVENTS)}
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
        status = waha.SESSION_STATUS_MAP.get(bridge_status, "unknown")
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

    def _token_matches(self, request: WebhookRequest) -> bool:
        given = request.header(TOKEN_HEADER) or (request.query.get("token") or [""])[0]
        return bool(given) and hmac.compare_digest(given.encode(), self.webhook_secret.encode())

    def verify_webhook(self, request: WebhookRequest) -> None:
        if not self.webhook_secret:
            raise WebhookSignatureError("Bridge webhook cannot be verified: no webhook secret.")
        signature = request.header(SIGNATURE_HEADER).strip().lower()
        if self.evolution or not signature:
            if not self._token_matches(request):
                raise WebhookSignatureError("Bridge webhook without a valid signature or token.")
            return
        algorithm = request.header(ALGORITHM_HEADER, "sha512").lower()
        if algorithm != "sha512":
            raise WebhookSignatureError(f"Bridge webhook signed with unsupported algorithm '{algorithm[:20]}'.")
        expected = hmac.new(self.webhook_secret.encode(), request.body, hashlib.sha512).hexdigest()
        if not hmac.compare_digest(signature.encode(), expected.encode()):
            raise WebhookSignatureError("Bridge webhook signature does not match.")

    def parse_webhook(self, request: WebhookRequest) -> list[InboundEvent]:
        try:
            data = json.loads(request.body)
        except ValueError:
            raise ProviderRejected("Bridge webhook body is not a JSON object.", code="malformed") from None
        if not isinstance(data, dict):
            raise ProviderRejected("Bridge webhook body is not a JSON object.", code="malformed")
        return evolution.parse(data) if self.evolution else waha.parse(data)


__all__ = ["PairingState", "WhatsAppWebBridge", "chat_id"]
