"""Meta WhatsApp Cloud API (graph.facebook.com).

Contract: ``docs``-level summary in ``PROVIDER_CONTRACTS.md``. Points that are *unverified*
there stay configurable here: the Graph API version (``api_version``) and the health field
list (``quality_rating`` is read when present, ignored when absent). The error codes treated
as rate limits besides 130429 (4, 80007, 131048, 131056) come from Meta's error-code table and
are not in the contract summary.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from datetime import UTC, datetime
from typing import Any

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
from providers.http import (
    HTTP_CONFIG_FIELDS,
    HttpAdapterMixin,
    base_url_field,
    error_body,
    transient_status,
)
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
    WebhookResponse,
    normalize_phone,
)

SIGNATURE_HEADER = "X-Hub-Signature-256"
DEFAULT_BASE_URL = "https://graph.facebook.com"

RATE_LIMIT_CODES = frozenset({"4", "80007", "130429", "131048", "131056"})
# Refusals tied to this account or number: another provider may well succeed.
PROVIDER_TIED_CODES = frozenset({"190", "10", "200", "131031", "131047", "133010", "368"})

STATUS_MAP = {
    "sent": events.STATUS_SENT,
    "delivered": events.STATUS_DELIVERED,
    "read": events.STATUS_READ,
    "failed": events.STATUS_FAILED,
}
HEALTH_MAP = {"AVAILABLE": HealthStatus.HEALTHY, "LIMITED": HealthStatus.DEGRADED, "BLOCKED": HealthStatus.DOWN}


class MetaCloudWhatsApp(HttpAdapterMixin, WhatsAppProvider):
    name = "meta_cloud"
    display_name = "Meta WhatsApp Cloud API"
    description = "Official WhatsApp Business Platform, hosted by Meta."
    official = True
    stability = Stability.HIGH
    pricing = CATALOG["meta_cloud"]
    attachment_kinds = frozenset(ATTACHMENT_KINDS)
    max_body_length = 4096
    features = frozenset({"templates", "read_receipts", "media"})
    default_base_url = DEFAULT_BASE_URL
    http_label = "Meta Cloud API"

    config_fields = (
        ConfigField("phone_number_id", "Phone number ID", help_text="The WhatsApp phone number ID from Meta's app dashboard (digits)."),
        ConfigField("waba_id", "WhatsApp Business Account ID", required=False, help_text="Digits; shown for reference."),
        ConfigField("api_version", "Graph API version", required=False, default="v21.0", help_text="For example v21.0."),
        ConfigField("access_token", "Access token", secret=True, help_text="A system-user access token with whatsapp_business_messaging."),
        ConfigField("app_secret", "App secret", secret=True, help_text="Signs webhooks (X-Hub-Signature-256)."),
        ConfigField(
            "verify_token", "Webhook verify token", secret=True, required=False,
            help_text="The token you enter in Meta's webhook settings; the integration's webhook secret when empty.",
        ),
        base_url_field(DEFAULT_BASE_URL),
        *HTTP_CONFIG_FIELDS,
    )

    @classmethod
    def clean_config(cls, config, credentials):
        errors = {}
        for name in ("phone_number_id", "waba_id"):
            value = config.get(name)
            if value not in (None, "") and not str(value).isdigit():
                errors[name] = "Use the numeric ID Meta shows (digits only)."
        version = config.get("api_version")
        if version not in (None, "") and not re.fullmatch(r"v\d+\.\d+", str(version)):
            errors["api_version"] = "Use the form v21.0."
        return errors

    # ----- HTTP steps

    def _path(self, suffix: str = "") -> str:
        return f"/{self.setting('api_version')}/{self.setting('phone_number_id')}{suffix}"

    def auth_kwargs(self) -> dict[str, Any]:
        return {"headers": {"Authorization": f"Bearer {self.secret('access_token')}"}}

    def classify_error(self, response: requests.Response) -> ProviderError:
        error = error_body(response).get("error") or {}
        code = str(error.get("code", "")) or None
        message = str(error.get("message") or f"HTTP {response.status_code}")
        status = response.status_code
        if transient_status(status) or code in RATE_LIMIT_CODES:
            return ProviderUnavailable(f"Meta Cloud API: {message}", code=code or status, status=status)
        fail_over = code in PROVIDER_TIED_CODES or status in (401, 403)
        return ProviderRejected(f"Meta Cloud API refused: {message}", code=code or status, status=status, fail_over=fail_over)

    # ----- sending

    def build_payload(self, message: OutboundMessage) -> dict[str, Any]:
        try:
            to = normalize_phone(message.to)
        except ValueError as exc:
            raise ProviderRejected(str(exc), code="invalid_recipient") from None
        payload: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to}
        if message.client_reference:
            payload["biz_opaque_callback_data"] = message.client_reference
        if not message.attachments:
            payload.update(type="text", text={"body": message.body, "preview_url": False})
            return payload
        if len(message.attachments) > 1:
            raise ProviderRejected("Meta sends one attachment per message; split them into several messages.", code="too_many_attachments")
        attachment = message.attachments[0]
        media: dict[str, Any] = {"link": attachment.url}
        caption = attachment.caption or message.body
        if attachment.kind == "audio":
            if caption:
                raise ProviderRejected("Meta audio messages cannot carry text; send the text separately.", code="caption_not_supported")
        elif caption:
            media["caption"] = caption
        if attachment.kind == "document" and attachment.filename:
            media["filename"] = attachment.filename
        payload.update({"type": attachment.kind, attachment.kind: media})
        return payload

    def deliver_message(self, message: OutboundMessage) -> SendResult:
        data = self.request_json("POST", self._path("/messages"), json=self.build_payload(message))
        try:
            provider_id = str(data["messages"][0]["id"])
        except (KeyError, IndexError, TypeError):
            raise ProviderUnavailable("Meta Cloud API accepted the request but returned no message id.", code="malformed_response") from None
        return SendResult(provider_message_id=provider_id, status=events.STATUS_SENT, raw=data)

    def check_health(self) -> ProviderHealth:
        data = self.request_json("GET", self._path(), params={"fields": "health_status,quality_rating"})
        can_send = str((data.get("health_status") or {}).get("can_send_message", "")).upper()
        quality = str(data.get("quality_rating", "")).upper()
        status = HEALTH_MAP.get(can_send, HealthStatus.DEGRADED)
        if status == HealthStatus.HEALTHY and quality == "RED":
            status = HealthStatus.DEGRADED
        detail = f"can_send_message={can_send or 'unknown'}" + (f", quality_rating={quality}" if quality else "")
        return ProviderHealth(status=status, detail=detail, extra={"can_send_message": can_send, "quality_rating": quality})

    # ----- webhooks

    def _verify_token(self) -> str:
        return str(self.credentials.get("verify_token") or self.webhook_secret)

    def handshake(self, request: WebhookRequest) -> WebhookResponse | None:
        mode = (request.query.get("hub.mode") or [""])[0]
        token = (request.query.get("hub.verify_token") or [""])[0]
        challenge = (request.query.get("hub.challenge") or [""])[0]
        expected = self._verify_token()
        if mode != "subscribe" or not expected or not hmac.compare_digest(token.encode(), expected.encode()):
            raise WebhookSignatureError("Meta verification handshake: mode or verify token does not match.")
        return WebhookResponse(status=200, body=challenge, content_type="text/plain")

    def verify_webhook(self, request: WebhookRequest) -> None:
        app_secret = self.credentials.get("app_secret")
        if not app_secret:
            raise WebhookSignatureError("Meta webhook cannot be verified: the app secret is not configured.")
        given = request.header(SIGNATURE_HEADER)
        if not given.startswith("sha256="):
            raise WebhookSignatureError(f"Meta webhook without a valid {SIGNATURE_HEADER} header.")
        expected = "sha256=" + hmac.new(str(app_secret).encode(), request.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given.strip().lower().encode(), expected.encode()):
            raise WebhookSignatureError("Meta webhook signature does not match.")

    def parse_webhook(self, request: WebhookRequest) -> list[InboundEvent]:
        try:
            data = json.loads(request.body)
        except ValueError:
            raise ProviderRejected("Meta webhook body is not JSON.", code="malformed") from None
        parsed: list[InboundEvent] = []
        for entry in data.get("entry") or []:
            for change in entry.get("changes") or []:
                if change.get("field") != "messages":
                    continue
                value = change.get("value") or {}
                own_number = str((value.get("metadata") or {}).get("display_phone_number", ""))
                for item in value.get("messages") or []:
                    parsed.append(_inbound(item, own_number))
                for item in value.get("statuses") or []:
                    status = STATUS_MAP.get(str(item.get("status")))
                    if status is None:
                        continue
                    error = (item.get("errors") or [{}])[0]
                    parsed.append(
                        InboundEvent(
                            kind=events.MESSAGE_STATUS,
                            event_id=f"{item.get('id')}:{item.get('status')}",
                            provider_message_id=str(item.get("id", "")),
                            status=status,
                            to_number=_plus(item.get("recipient_id", "")),
                            error_code=str(error.get("code", "")) if error else "",
                            error_message=str(error.get("message") or error.get("title") or "") if error else "",
                            occurred_at=_timestamp(item.get("timestamp")),
                            raw=item,
                        )
                    )
        return parsed


def _plus(number: Any) -> str:
    text = str(number or "")
    return text if not text or text.startswith("+") else f"+{text}"


def _timestamp(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (TypeError, ValueError):
        return None


def _inbound(item: dict[str, Any], own_number: str) -> InboundEvent:
    kind = str(item.get("type", ""))
    body = ""
    attachments: tuple[Attachment, ...] = ()
    if kind == "text":
        body = str((item.get("text") or {}).get("body", ""))
    elif kind in ATTACHMENT_KINDS or kind in ("sticker", "voice"):
        media = item.get(kind) or {}
        body = str(media.get("caption", ""))
        # Meta sends a media id, not a URL; it is fetched with GET /<version>/<media id>.
        attachments = (
            Attachment(
                url=f"meta-media:{media.get('id', '')}",
                mime_type=str(media.get("mime_type", "")),
                caption=body,
                filename=str(media.get("filename", "")),
            ),
        )
    else:
        body = f"[{kind} message]"
    return InboundEvent(
        kind=events.INBOUND_MESSAGE,
        event_id=str(item.get("id", "")),
        provider_message_id=str(item.get("id", "")),
        from_number=_plus(item.get("from", "")),
        to_number=_plus(own_number),
        body=body,
        attachments=attachments,
        occurred_at=_timestamp(item.get("timestamp")),
        raw=item,
    )


__all__ = ["MetaCloudWhatsApp"]
