"""Twilio WhatsApp (Programmable Messaging with ``whatsapp:`` addresses).

Sends ``POST /2010-04-01/Accounts/<sid>/Messages.json`` (form encoded, HTTP Basic) with one
``MediaUrl`` at most: WhatsApp carries one media item per message. Templates and interactive
messages are Content resources (``providers.whatsapp.twilio_content``): sent with
``ContentSid`` + ``ContentVariables``; an interactive message without a known Content SID gets
one created first (its SID is returned in ``SendResult.raw["content_sid"]`` so the caller can
reuse it). Webhooks are Twilio's status callbacks and incoming-message requests, signed as
described in ``providers.twilio_api``; a tapped quick reply arrives as ``ButtonPayload`` /
``ButtonText`` (Twilio's incoming-message parameters), replying to
``OriginalRepliedMessageSid``.

Inbound media URLs (``MediaUrl<n>``) are on the API host and need Basic auth; Twilio answers
with a redirect to its media storage, followed without the credentials.

*Unverified*: the list-picker reply parameters beyond ``ButtonPayload``/``ButtonText`` (a
list choice is read from those two when Twilio sends them).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from providers import downloads, events, features
from providers.base import WhatsAppProvider
from providers.catalog import CATALOG
from providers.config import ConfigField
from providers.errors import ProviderRejected, ProviderUnavailable
from providers.http import HttpAdapterMixin, json_body, send
from providers.twilio_api import (
    ACCOUNT_FIELDS,
    TwilioAccountMixin,
    clean_account,
    first,
    http_fields,
    normalized_error,
    strip_channel,
)
from providers.values import (
    ATTACHMENT_KINDS,
    Attachment,
    InboundEvent,
    InteractiveReply,
    MediaContent,
    OutboundMessage,
    ProviderTemplate,
    SendResult,
    Stability,
    WebhookRequest,
    normalize_phone,
)
from providers.whatsapp import twilio_content

CONTENT_PAGE_SIZE = 100

# Twilio's message statuses → ours. queued/accepted/sending mean "the provider has it".
STATUS_MAP = {
    "accepted": events.STATUS_SENT,
    "queued": events.STATUS_SENT,
    "sending": events.STATUS_SENT,
    "sent": events.STATUS_SENT,
    "delivered": events.STATUS_DELIVERED,
    "read": events.STATUS_READ,
    "undelivered": events.STATUS_FAILED,
    "failed": events.STATUS_FAILED,
}


def form_of(request: WebhookRequest) -> dict[str, list[str]]:
    if request.form:
        return {k: list(v) for k, v in request.form.items()}
    return parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)


class TwilioWhatsApp(TwilioAccountMixin, HttpAdapterMixin, WhatsAppProvider):
    name = "twilio_whatsapp"
    display_name = "Twilio WhatsApp"
    description = "WhatsApp through Twilio's Programmable Messaging API."
    official = True
    stability = Stability.HIGH
    pricing = CATALOG["twilio_whatsapp"]
    # Twilio: 80 messages per second per WhatsApp sender by default (WhatsApp best practices).
    default_send_rate_limit = 80
    attachment_kinds = frozenset(ATTACHMENT_KINDS)
    max_body_length = 1600
    features = frozenset({
        features.MEDIA, features.READ_RECEIPTS, features.TEMPLATES, features.TEMPLATE_IMPORT, features.INTERACTIVE,
        features.MEDIA_DOWNLOAD, features.SERVICE_WINDOW,
    })
    http_label = "Twilio"

    config_fields = (
        *ACCOUNT_FIELDS,
        ConfigField("from_number", "WhatsApp sender", kind="phone", help_text="Your WhatsApp-enabled Twilio number, E.164."),
        *http_fields(),
        ConfigField("content_base_url", "Content API base URL", kind="url", required=False, destination=True,
                    default=twilio_content.DEFAULT_CONTENT_BASE_URL,
                    help_text="Leave empty for Twilio's Content API; set it for a proxy or a test server."),
    )

    def content_url(self, path: str) -> str:
        return str(self.setting("content_base_url") or twilio_content.DEFAULT_CONTENT_BASE_URL).rstrip("/") + path

    def content_request(self, method: str, url: str, **kwargs: Any) -> Any:
        """A Content API call: same account credentials, another host than the REST API."""
        response = send(method, url, provider=self.http_label, timeout=self.timeouts(), **self.auth_kwargs(), **kwargs)
        if not 200 <= response.status_code < 300:
            raise self._error_from(response)
        return json_body(response, provider=self.http_label)

    @classmethod
    def clean_config(cls, config, credentials):
        return clean_account(config)

    def deliver_message(self, message: OutboundMessage) -> SendResult:
        try:
            to = normalize_phone(message.to)
        except ValueError as exc:
            raise ProviderRejected(str(exc), code="invalid_recipient") from None
        if len(message.attachments) > 1:
            raise ProviderRejected("Twilio WhatsApp sends one attachment per message.", code="too_many_attachments")
        form: dict[str, str] = {"To": f"whatsapp:{to}", "From": f"whatsapp:{self.setting('from_number')}"}
        created: dict[str, Any] = {}
        if message.template is not None:
            template = message.template
            if not template.mapping.content_sid:
                raise ProviderRejected("This template has no Twilio Content SID mapped on this integration.",
                                       code=events.ERROR_TEMPLATE_UNAVAILABLE, fail_over=True)
            form["ContentSid"] = template.mapping.content_sid
            if template.variables:
                form["ContentVariables"] = twilio_content.content_variables(template.variables, template.mapping.variable_names)
        elif message.interactive is not None:
            content_sid = message.interactive.provider_content_id or self._create_content(message)
            created = {"content_sid": content_sid}
            form["ContentSid"] = content_sid
        else:
            body = message.body or (message.attachments[0].caption if message.attachments else "")
            if body:
                form["Body"] = body
            if message.attachments:
                form["MediaUrl"] = message.attachments[0].url
        callback = message.status_callback_url or self.webhook_url
        if callback:
            form["StatusCallback"] = callback
        data, cost, currency = self.create_resource("/Messages.json", form, noun="message")
        return SendResult(
            provider_message_id=str(data["sid"]),
            status=STATUS_MAP.get(str(data.get("status")), events.STATUS_SENT),
            cost=cost,
            currency=currency,
            raw={**data, **created},
        )

    def _create_content(self, message: OutboundMessage) -> str:
        request = twilio_content.interactive_content(message.interactive)
        data = self.content_request("POST", self.content_url("/v1/Content"), json=request)
        if not isinstance(data, dict) or not str(data.get("sid", "")).startswith("HX"):
            raise ProviderUnavailable("Twilio created no Content for the interactive message.", code="malformed_response")
        return str(data["sid"])

    # ----- templates and media

    def fetch_templates(self, *, max_pages: int) -> list[ProviderTemplate]:
        """``GET /v1/ContentAndApprovals``; ``meta.next_page_url`` is followed only on the
        Content API host (it carries our credentials)."""
        templates: list[ProviderTemplate] = []
        url = self.content_url(f"/v1/ContentAndApprovals?PageSize={CONTENT_PAGE_SIZE}")
        home = urlsplit(self.content_url("/"))
        for _ in range(max_pages):
            data = self.content_request("GET", url)
            records = data.get("contents") if isinstance(data, dict) else None
            if not isinstance(records, list):
                raise ProviderUnavailable("Twilio answered the content list without contents.", code="malformed_response")
            templates += [twilio_content.provider_template(r) for r in records if isinstance(r, dict)]
            next_url = str(((data.get("meta") or {}).get("next_page_url")) or "")
            parts = urlsplit(next_url)
            if not next_url or (parts.scheme, parts.netloc) != (home.scheme, home.netloc):
                break
            url = next_url
        return templates

    def fetch_media(self, reference: str, *, max_bytes: int) -> MediaContent:
        """A ``MediaUrl`` of this account on the API host; anything else is refused before any
        request, so the account's credentials never travel elsewhere."""
        parts, api = urlsplit(reference), urlsplit(self.base_url())
        if (parts.scheme, parts.netloc) != (api.scheme, api.netloc) or not parts.path.startswith(self.account_path("/")):
            raise ProviderRejected("Not a media URL of this Twilio account.", code="invalid_media_reference")
        return downloads.fetch(reference, max_bytes=max_bytes, provider=self.http_label, timeout=self.timeouts(),
                               auth_kwargs=self.auth_kwargs(), classify_error=self._error_from)

    def parse_webhook(self, request: WebhookRequest) -> list[InboundEvent]:
        form = form_of(request)
        sid = first(form, "MessageSid") or first(form, "SmsSid")
        if not sid:
            return []
        twilio_status = first(form, "MessageStatus") or first(form, "SmsStatus")
        if twilio_status == "received" or (not first(form, "MessageStatus") and first(form, "Body")):
            return [_inbound(form, sid)]
        status = STATUS_MAP.get(twilio_status)
        if status is None:
            return []
        error_code, error_message = normalized_error(first(form, "ErrorCode"), first(form, "ErrorMessage"))
        return [
            InboundEvent(
                kind=events.MESSAGE_STATUS,
                event_id=f"{sid}:{twilio_status}",
                provider_message_id=sid,
                status=status,
                provider_status=twilio_status,
                from_number=strip_channel(first(form, "From")),
                to_number=strip_channel(first(form, "To")),
                error_code=error_code,
                error_message=error_message,
                raw={k: v[0] if len(v) == 1 else v for k, v in form.items()},
            )
        ]


def _inbound(form: dict[str, list[str]], sid: str) -> InboundEvent:
    try:
        media_count = int(first(form, "NumMedia") or 0)
    except ValueError:
        media_count = 0
    attachments = tuple(
        Attachment(url=first(form, f"MediaUrl{i}"), mime_type=first(form, f"MediaContentType{i}"))
        for i in range(media_count)
        if first(form, f"MediaUrl{i}")
    )
    sender = strip_channel(first(form, "From"))
    common: dict[str, Any] = {
        "event_id": sid, "provider_message_id": sid, "from_number": sender, "to_number": strip_channel(first(form, "To")),
        "chat_id": sender, "chat_kind": events.CHAT_DIRECT, "sender_id": sender, "sender_kind": events.SENDER_PHONE,
        "related_message_id": first(form, "OriginalRepliedMessageSid"),
        "raw": {k: v[0] if len(v) == 1 else v for k, v in form.items()},
    }
    payload, text = first(form, "ButtonPayload"), first(form, "ButtonText")
    if payload or text:
        return InboundEvent(kind=events.INTERACTIVE_REPLY, body=text or first(form, "Body"),
                            reply=InteractiveReply(kind=events.REPLY_BUTTON, id=payload, title=text), **common)
    return InboundEvent(kind=events.INBOUND_MESSAGE, body=first(form, "Body"), attachments=attachments, **common)


__all__ = ["TwilioWhatsApp"]
