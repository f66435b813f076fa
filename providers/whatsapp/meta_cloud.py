"""Meta WhatsApp Cloud API (graph.facebook.com).

Contract: ``PROVIDER_CONTRACTS.md``; request and answer shapes of templates, interactive
messages and the template list in ``providers.whatsapp.meta_payloads``, webhooks in
``providers.whatsapp.meta_webhooks``. Points that are *unverified* stay configurable: the
Graph API version (``api_version``) and the health field list (``quality_rating`` is read when
present, ignored when absent). The error codes treated as rate limits besides 130429 (4,
80007, 131048, 131056) come from Meta's error-code table (pywa ``errors.py``).

Free-form messages only reach a customer who wrote in the last 24 hours; outside that window
Meta refuses with 131047, reported as ``outside_service_window`` (send a template instead).

Media downloads: ``GET /<version>/<media id>`` answers ``{"url", "mime_type", "file_size"}``;
the URL is fetched with the same bearer token, only on a Meta host (``*.fbsbx.com``,
``*.facebook.com``, ``*.whatsapp.net``) or the configured API host.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from providers import downloads, events, features
from providers.base import WhatsAppProvider
from providers.catalog import CATALOG
from providers.config import ConfigField
from providers.errors import (
    ProviderConfigurationError,
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
    WebhookSignatureError,
)
from providers.http import (
    HTTP_CONFIG_FIELDS,
    HttpAdapterMixin,
    base_url_field,
    error_body,
    retry_after_seconds,
    transient_status,
)
from providers.values import (
    ATTACHMENT_KINDS,
    HealthStatus,
    InboundEvent,
    MediaContent,
    OutboundMessage,
    ProviderHealth,
    ProviderTemplate,
    SendResult,
    Stability,
    WebhookRequest,
    WebhookResponse,
    normalize_phone,
)
from providers.whatsapp import meta_payloads, meta_webhooks

SIGNATURE_HEADER = "X-Hub-Signature-256"
DEFAULT_BASE_URL = "https://graph.facebook.com"

RATE_LIMIT_CODES = frozenset({"4", "80007", "130429", "131048", "131056"})
# Refusals tied to this account or number: another provider may well succeed. A closed
# service window (131047) fails over too: a bridge has no window, and the domain decides at
# intake whether free text may go at all.
PROVIDER_TIED_CODES = frozenset({"190", "10", "200", "131031", "131047", "133010", "368"})
TEMPLATE_PAGE_SIZE = 100
MEDIA_HOST_SUFFIXES = (".fbsbx.com", ".facebook.com", ".whatsapp.net", ".fbcdn.net")
HEALTH_MAP = {"AVAILABLE": HealthStatus.HEALTHY, "LIMITED": HealthStatus.DEGRADED, "BLOCKED": HealthStatus.DOWN}


class MetaCloudWhatsApp(HttpAdapterMixin, WhatsAppProvider):
    name = "meta_cloud"
    display_name = "Meta WhatsApp Cloud API"
    description = "Official WhatsApp Business Platform, hosted by Meta."
    official = True
    stability = Stability.HIGH
    pricing = CATALOG["meta_cloud"]
    # Cloud API throughput: 80 messages per second per business phone number by default.
    default_send_rate_limit = 80
    attachment_kinds = frozenset(ATTACHMENT_KINDS)
    max_body_length = 4096
    features = frozenset({
        features.TEMPLATES, features.TEMPLATE_IMPORT, features.INTERACTIVE, features.MEDIA, features.MEDIA_DOWNLOAD,
        features.READ_RECEIPTS, features.REACTIONS, features.SERVICE_WINDOW,
    })
    default_base_url = DEFAULT_BASE_URL
    http_label = "Meta Cloud API"

    config_fields = (
        ConfigField("phone_number_id", "Phone number ID", help_text="The WhatsApp phone number ID from Meta's app dashboard (digits)."),
        ConfigField("waba_id", "WhatsApp Business Account ID", required=False,
                    help_text="Digits; needed to import the account's message templates."),
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
        if status == 429 or code in RATE_LIMIT_CODES:
            return ProviderRateLimited(f"Meta Cloud API: {message}", code=code or status, status=status,
                                       retry_after=retry_after_seconds(response))
        if transient_status(status):
            return ProviderUnavailable(f"Meta Cloud API: {message}", code=code or status, status=status)
        normalized = meta_webhooks.NORMALIZED_ERRORS.get(code or "")
        if normalized:
            # Ours in ``code``, Meta's in the message; another integration (where the template
            # is approved, or a bridge without a window) may carry the message.
            return ProviderRejected(f"Meta Cloud API refused [{code}]: {message}", code=normalized, status=status, fail_over=True)
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
        if message.template is not None:
            payload.update(type="template", template=meta_payloads.template_object(message.template))
            return payload
        if message.interactive is not None:
            payload.update(type="interactive", interactive=meta_payloads.interactive_object(message.interactive))
            return payload
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

    # ----- templates and media

    def fetch_templates(self, *, max_pages: int) -> list[ProviderTemplate]:
        """``GET /<version>/<waba_id>/message_templates``, page by page with the ``after``
        cursor (never by following the ``next`` URL: the bearer token goes to our API host
        only). Stops when a page has no ``next`` or after ``max_pages``."""
        waba_id = self.setting("waba_id")
        if not waba_id:
            raise ProviderConfigurationError("Set the WhatsApp Business Account ID to import templates.", code="waba_id_missing")
        templates: list[ProviderTemplate] = []
        params = {"limit": TEMPLATE_PAGE_SIZE,
                  "fields": "id,name,language,status,category,components,rejected_reason"}
        for _ in range(max_pages):
            data = self.request_json("GET", f"/{self.setting('api_version')}/{waba_id}/message_templates", params=params)
            records = data.get("data") if isinstance(data, dict) else None
            if not isinstance(records, list):
                raise ProviderUnavailable("Meta Cloud API answered the template list without data.", code="malformed_response")
            templates += [meta_payloads.provider_template(r) for r in records if isinstance(r, dict)]
            paging = data.get("paging") if isinstance(data.get("paging"), dict) else {}
            after = (paging.get("cursors") or {}).get("after")
            if not paging.get("next") or not after:
                break
            params = {**params, "after": str(after)}
        return templates

    def fetch_media(self, reference: str, *, max_bytes: int) -> MediaContent:
        media_id = reference.removeprefix(meta_webhooks.MEDIA_PREFIX)
        if not media_id.isdigit():
            raise ProviderRejected("Not a Meta media reference (meta-media:<digits>).", code="invalid_media_reference")
        info = self.request_json("GET", f"/{self.setting('api_version')}/{quote(media_id)}")
        url = str(info.get("url") or "") if isinstance(info, dict) else ""
        if not url:
            raise ProviderUnavailable("Meta Cloud API returned no URL for the media.", code="malformed_response")
        size = info.get("file_size")
        if isinstance(size, int) and size > max_bytes:
            raise downloads.too_large(max_bytes)
        self._check_media_host(url)
        media = downloads.fetch(url, max_bytes=max_bytes, provider=self.http_label, timeout=self.timeouts(),
                                auth_kwargs=self.auth_kwargs(), classify_error=self._error_from)
        mime_type = str(info.get("mime_type") or media.mime_type)
        return MediaContent(content=media.content, mime_type=mime_type, filename=media.filename)

    def _check_media_host(self, url: str) -> None:
        """The bearer token may go to Meta's media hosts or our configured API host, nowhere else."""
        parts, api = urlsplit(url), urlsplit(self.base_url())
        host = (parts.hostname or "").lower()
        on_meta = parts.scheme == "https" and host.endswith(MEDIA_HOST_SUFFIXES)
        on_api = (parts.scheme, parts.netloc) == (api.scheme, api.netloc)
        if not (on_meta or on_api):
            raise ProviderRejected("Meta Cloud API pointed the media download at an unexpected host.", code="media_host_refused")

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
        if not isinstance(data, dict):
            raise ProviderRejected("Meta webhook body is not a JSON object.", code="malformed")
        return meta_webhooks.parse(data)


__all__ = ["MetaCloudWhatsApp"]
