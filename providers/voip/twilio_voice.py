"""Twilio Voice: ``POST /2010-04-01/Accounts/<sid>/Calls.json`` and call status callbacks.

A call needs instructions: exactly one of ``Url`` (TwiML fetched by Twilio) or ``Twiml``.
They come from the call itself, else from the integration's ``default_twiml_url`` or
``default_twiml``.

Hang-up: ``POST …/Calls/<CallSid>.json`` with ``Status=canceled`` (a queued or ringing call)
or ``Status=completed`` (in progress), per the ``UpdateStatus`` values of the official
``twilio`` package (``twilio/rest/api/v2010/account/call/__init__.py``); the call is read
first (``GET …/Calls/<CallSid>.json``) to pick one, and a call already over is not touched.
The call resource carries ``price``/``price_unit`` (negative decimal, "populated after the call
is completed. May not be immediately available") and ``duration``: ``fetch_call`` reads them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from providers import events, features
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
    HangupResult,
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
    # Cancelled before anyone answered (by us, or by the caller): nobody picked up.
    "canceled": events.CALL_NO_ANSWER,
}
STATUS_CALLBACK_EVENTS = ("initiated", "ringing", "answered", "completed")
NOT_YET_ANSWERED = frozenset({"queued", "initiated", "ringing"})
FINAL = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})


class TwilioVoice(TwilioAccountMixin, HttpAdapterMixin, VoipProvider):
    name = "twilio_voice"
    display_name = "Twilio Voice"
    description = "Outbound calls through Twilio's Programmable Voice API."
    official = True
    stability = Stability.HIGH
    pricing = CATALOG["twilio_voice"]
    # Twilio: 1 call per second (CPS) per account for the Programmable Voice API by default.
    default_send_rate_limit = 1
    features = frozenset({
        features.TWIML, features.STATUS_CALLBACKS, features.CALL_INSTRUCTIONS, features.HANGUP, features.CALL_LOOKUP,
        features.CALL_COST,
    })
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

    def _call_path(self, provider_call_id: str) -> str:
        return self.account_path(f"/Calls/{quote(provider_call_id, safe='')}.json")

    def _call_result(self, data: dict[str, Any]) -> CallResult:
        known = data.get("price") not in (None, "")
        duration = str(data.get("duration") or "")
        return CallResult(
            provider_call_id=str(data.get("sid", "")),
            status=CALL_STATUS_MAP.get(str(data.get("status")), events.CALL_INITIATED),
            cost=price(data.get("price")) if known else None,
            currency=str(data.get("price_unit") or "") or None if known else None,
            duration_seconds=int(duration) if duration.isdigit() else None,
            raw=data,
        )

    def lookup_call(self, provider_call_id: str) -> CallResult:
        return self._call_result(self.request_json("GET", self._call_path(provider_call_id)))

    def end_call(self, provider_call_id: str) -> HangupResult:
        current = self.request_json("GET", self._call_path(provider_call_id))
        twilio_status = str(current.get("status", ""))
        if twilio_status in FINAL:
            call = self._call_result(current)
            return HangupResult(provider_call_id=provider_call_id, status=call.status, already_ended=True,
                                cost=call.cost, currency=call.currency, raw=current)
        target = "canceled" if twilio_status in NOT_YET_ANSWERED else "completed"
        updated = self.request_json("POST", self._call_path(provider_call_id), data={"Status": target})
        call = self._call_result(updated)
        return HangupResult(provider_call_id=provider_call_id, status=call.status if str(updated.get("status")) in FINAL else "",
                            cost=call.cost, currency=call.currency, raw=updated)

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
                provider_status=twilio_status,
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
