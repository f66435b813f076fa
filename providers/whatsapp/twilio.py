"""Twilio WhatsApp (Programmable Messaging with ``whatsapp:`` addresses).

Sends ``POST /2010-04-01/Accounts/<sid>/Messages.json`` (form encoded, HTTP Basic) with one
``MediaUrl`` at most: WhatsApp carries one media item per message. Webhooks are Twilio's status
callbacks and incoming-message requests, signed as described in ``providers.twilio_api``.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from providers import events
from providers.base import WhatsAppProvider
from providers.catalog import CATALOG
from providers.config import ConfigField
from providers.errors import ProviderRejected
from providers.http import HttpAdapterMixin
from providers.twilio_api import (
    ACCOUNT_FIELDS,
    TwilioAccountMixin,
    clean_account,
    first,
    http_fields,
    strip_channel,
)
from providers.values import (
    ATTACHMENT_KINDS,
    Attachment,
    InboundEvent,
    OutboundMessage,
    SendResult,
    Stability,
    WebhookRequest,
    normalize_phone,
)

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
    attachment_kinds = frozenset(ATTACHMENT_KINDS)
    max_body_length = 1600
    features = frozenset({"media", "read_receipts"})
    http_label = "Twilio"

    config_fields = (
        *ACCOUNT_FIELDS,
        ConfigField("from_number", "WhatsApp sender", kind="phone", help_text="Your WhatsApp-enabled Twilio number, E.164."),
        *http_fields(),
    )

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
            raw=data,
        )

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
        return [
            InboundEvent(
                kind=events.MESSAGE_STATUS,
                event_id=f"{sid}:{twilio_status}",
                provider_message_id=sid,
                status=status,
                from_number=strip_channel(first(form, "From")),
                to_number=strip_channel(first(form, "To")),
                error_code=first(form, "ErrorCode"),
                error_message=first(form, "ErrorMessage"),
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
    return InboundEvent(
        kind=events.INBOUND_MESSAGE,
        event_id=sid,
        provider_message_id=sid,
        from_number=strip_channel(first(form, "From")),
        to_number=strip_channel(first(form, "To")),
        body=first(form, "Body"),
        attachments=attachments,
        raw={k: v[0] if len(v) == 1 else v for k, v in form.items()},
    )


__all__ = ["TwilioWhatsApp"]
