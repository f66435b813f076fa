"""Twilio Voice: ``POST /2010-04-01/Accounts/<sid>/Calls.json`` and call status callbacks.

A call needs instructions: exactly one of ``Url`` (TwiML fetched by Twilio) or ``Twiml``.
They come from the call itself, else from the integration's ``default_twiml_url`` or
``default_twiml``.
"""

from __future__ import annotations

from providers import events
from providers.base import VoipProvider
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
    price,
    strip_channel,
)
from providers.values import (
    CallResult,
    InboundEvent,
    OutboundCall,
    Stability,
    WebhookRequest,
    normalize_phone,
)
from providers.whatsapp.twilio import form_of

CALL_STATUS_MAP = {
    "queued": events.CALL_INITIATED,
    "initiated": events.CALL_INITIATED,
    "ringing": events.CALL_RINGING,
    "in-progress": events.CALL_ANSWERED,
    "answered": events.CALL_ANSWERED,
    "completed": events.CALL_COMPLETED,
    "busy": events.CALL_BUSY,
    "no-answer": events.CALL_NO_ANSWER,
    "failed": events.CALL_FAILED,
    "canceled": events.CALL_FAILED,
}
STATUS_CALLBACK_EVENTS = ("initiated", "ringing", "answered", "completed")


class TwilioVoice(TwilioAccountMixin, HttpAdapterMixin, VoipProvider):
    name = "twilio_voice"
    display_name = "Twilio Voice"
    description = "Outbound calls through Twilio's Programmable Voice API."
    official = True
    stability = Stability.HIGH
    pricing = CATALOG["twilio_voice"]
    features = frozenset({"twiml", "status_callbacks"})
    http_label = "Twilio"

    config_fields = (
        *ACCOUNT_FIELDS,
        ConfigField("from_number", "Caller ID", kind="phone", help_text="A Twilio number or verified caller ID, E.164."),
        ConfigField("default_twiml_url", "Default TwiML URL", kind="url", required=False,
                    help_text="Fetched by Twilio when a call brings no instructions of its own."),
        ConfigField("default_twiml", "Default TwiML", required=False,
                    help_text="Inline instructions, used when there is no TwiML URL, e.g. <Response><Say>Hello</Say></Response>."),
        *http_fields(),
    )

    @classmethod
    def clean_config(cls, config, credentials):
        errors = clean_account(config)
        twiml = config.get("default_twiml")
        if twiml and not str(twiml).lstrip().startswith("<Response"):
            errors["default_twiml"] = "TwiML starts with <Response>."
        return errors

    def dial(self, call: OutboundCall) -> CallResult:
        try:
            to = normalize_phone(call.to)
        except ValueError as exc:
            raise ProviderRejected(str(exc), code="invalid_recipient") from None
        form: list[tuple[str, str]] = [("To", to), ("From", call.from_number or str(self.setting("from_number")))]
        if call.url:
            form.append(("Url", call.url))
        elif call.twiml:
            form.append(("Twiml", call.twiml))
        elif self.setting("default_twiml_url"):
            form.append(("Url", str(self.setting("default_twiml_url"))))
        elif self.setting("default_twiml"):
            form.append(("Twiml", str(self.setting("default_twiml"))))
        else:
            raise ProviderRejected(
                "Twilio Voice needs call instructions: give the call a URL or TwiML, or set a default on the integration.",
                code="no_call_instructions",
                fail_over=True,
            )
        callback = call.status_callback_url or self.webhook_url
        if callback:
            form.append(("StatusCallback", callback))
            form.extend(("StatusCallbackEvent", event) for event in STATUS_CALLBACK_EVENTS)
        data, cost, currency = self.create_resource("/Calls.json", form, noun="call")
        return CallResult(
            provider_call_id=str(data["sid"]),
            status=CALL_STATUS_MAP.get(str(data.get("status")), events.CALL_INITIATED),
            cost=cost,
            currency=currency,
            raw=data,
        )

    def parse_webhook(self, request: WebhookRequest) -> list[InboundEvent]:
        form = form_of(request)
        sid = first(form, "CallSid")
        twilio_status = first(form, "CallStatus")
        status = CALL_STATUS_MAP.get(twilio_status)
        if not sid or status is None:
            return []
        duration = first(form, "CallDuration")
        return [
            InboundEvent(
                kind=events.CALL_STATUS,
                event_id=f"{sid}:{twilio_status}",
                provider_message_id=sid,
                status=status,
                from_number=strip_channel(first(form, "From")),
                to_number=strip_channel(first(form, "To")),
                duration_seconds=int(duration) if duration.isdigit() else None,
                error_code=first(form, "ErrorCode") or first(form, "SipResponseCode") if status == events.CALL_FAILED else "",
                cost=price(first(form, "Price")) if first(form, "Price") else None,
                currency=first(form, "PriceUnit") or None,
                raw={k: v[0] if len(v) == 1 else v for k, v in form.items()},
            )
        ]


__all__ = ["TwilioVoice"]
