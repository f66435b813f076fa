"""Property-based fuzz of every webhook parser: whatever arrives, validly signed or not, the
webhook endpoint's entry points (``authenticate_webhook``, ``webhook_events``) answer with
events that fit their columns, a ``ProviderRejected`` ("malformed", a 400) or a
``WebhookSignatureError`` (a 403), and nothing else.

Bodies are signed with each provider's real scheme, so the parsers themselves run on them:
arbitrary JSON, JSON shaped like the provider's own payloads with random values in every
place, form bodies (Twilio) and raw bytes. ``EXAMPLES`` per provider and strategy.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from providers import inbound
from providers.errors import ProviderRejected, WebhookSignatureError
from providers.sandbox import SandboxVoip, SandboxWhatsApp
from providers.sandbox import sign as sandbox_sign
from providers.twilio_api import compute_signature
from providers.values import InboundEvent, WebhookRequest
from providers.voip.telnyx import Telnyx
from providers.voip.twilio_voice import TwilioVoice
from providers.whatsapp.meta_cloud import MetaCloudWhatsApp
from providers.whatsapp.twilio import TwilioWhatsApp
from providers.whatsapp.web_bridge import WhatsAppWebBridge

EXAMPLES = 150
URL = "https://switchboard.example.com/webhooks/6f1c2a9e-0000-4000-8000-000000000001/"
WEBHOOK_SECRET = "whsec-FUZZ-0123456789"
APP_SECRET = "meta-app-secret-0123456789"
AUTH_TOKEN = "twilio-auth-token-0123456789"
ACCOUNT = "AC" + "a" * 32
TELNYX_KEY = Ed25519PrivateKey.generate()
TELNYX_PUBLIC = base64.b64encode(TELNYX_KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()

# Keys of the providers' own payloads, so generated trees reach deep into each parser.
KEYS = [
    "object", "entry", "changes", "field", "value", "metadata", "display_phone_number", "messages", "statuses",
    "from", "to", "id", "timestamp", "type", "text", "body", "status", "errors", "code", "message", "title",
    "recipient_id", "image", "caption", "mime_type", "filename", "data", "event_type", "payload", "occurred_at",
    "call_control_id", "hangup_cause", "start_time", "end_time", "event", "session", "fromMe", "hasMedia", "media",
    "url", "ack", "ackName", "key", "remoteJid", "conversation", "extendedTextMessage", "messageTimestamp",
    "keyId", "state", "instance", "events", "kind", "provider_message_id", "cost", "duration_seconds", "_serialized",
]
leaves = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(["message", "message.ack", "session.status", "messages.upsert", "messages.update",
                       "connection.update", "call.hangup", "call.answered", "messages", "delivered", "failed",
                       "whatsapp_business_account", "9" * 400, "\x00", "\ud800", "2024-13-45T99:99:99Z", "-1e999"])
)
shaped = st.recursive(
    leaves,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), children, max_size=5),
    max_leaves=40,
)
any_json = st.recursive(leaves, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=10), c, max_size=4), max_leaves=25)


def json_bytes(value) -> bytes:
    return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")


bodies = (
    st.builds(json_bytes, shaped)
    | st.builds(json_bytes, any_json)
    | st.binary(max_size=200)
    | st.sampled_from([b"", b"null", b"[]", b"[" * 5000, b"{" * 3000, b'{"a":' * 2000, b"\xff\xfe", b"\x00" * 10])
)
form_values = st.text(max_size=20) | st.sampled_from(["received", "delivered", "failed", "9" * 400, "\x00", "-1"])
forms = st.dictionaries(
    st.sampled_from(["MessageSid", "SmsSid", "MessageStatus", "SmsStatus", "Body", "From", "To", "ErrorCode",
                     "ErrorMessage", "NumMedia", "MediaUrl0", "MediaContentType0", "CallSid", "CallStatus",
                     "CallDuration", "Price", "PriceUnit", "AccountSid", "Timestamp"]) | st.text(max_size=8),
    st.lists(form_values, min_size=1, max_size=2),
    max_size=8,
)


def meta() -> tuple:
    adapter = MetaCloudWhatsApp(config={"phone_number_id": "1"}, credentials={"access_token": "t" * 20, "app_secret": APP_SECRET},
                                webhook_secret=WEBHOOK_SECRET, webhook_url=URL)

    def request(body: bytes) -> WebhookRequest:
        signature = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
        return WebhookRequest("POST", URL, {"X-Hub-Signature-256": signature, "Content-Type": "application/json"}, body)

    return adapter, request


def bridge(api: str) -> tuple:
    adapter = WhatsAppWebBridge(config={"base_url": "https://waha.example.com", "api": api}, credentials={"api_key": "k" * 12},
                                webhook_secret=WEBHOOK_SECRET, webhook_url=URL)

    def request(body: bytes) -> WebhookRequest:
        if api == "evolution":
            return WebhookRequest("POST", URL + "?token=" + WEBHOOK_SECRET, {}, body, query={"token": [WEBHOOK_SECRET]})
        signature = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha512).hexdigest()
        return WebhookRequest("POST", URL, {"X-Webhook-Hmac": signature, "X-Webhook-Hmac-Algorithm": "sha512"}, body)

    return adapter, request


def telnyx() -> tuple:
    adapter = Telnyx(config={"connection_id": "c1", "from_number": "+14155550100", "public_key": TELNYX_PUBLIC},
                     credentials={"api_key": "k" * 12}, webhook_secret=WEBHOOK_SECRET, webhook_url=URL)

    def request(body: bytes) -> WebhookRequest:
        timestamp = str(int(time.time()))
        signature = base64.b64encode(TELNYX_KEY.sign(timestamp.encode() + b"|" + body)).decode()
        return WebhookRequest("POST", URL, {"telnyx-signature-ed25519": signature, "telnyx-timestamp": timestamp}, body)

    return adapter, request


def sandbox(provider_class) -> tuple:
    adapter = provider_class(config={}, credentials={}, webhook_secret=WEBHOOK_SECRET, webhook_url=URL)

    def request(body: bytes) -> WebhookRequest:
        return WebhookRequest("POST", URL, {"X-Sandbox-Signature": sandbox_sign(WEBHOOK_SECRET, body)}, body)

    return adapter, request


def twilio_json(provider_class) -> tuple:
    """Twilio's JSON-body variant: the URL carries bodySHA256 and the signature covers the URL."""
    adapter = provider_class(config={"account_sid": ACCOUNT, "from_number": "+14155550100"}, credentials={"auth_token": AUTH_TOKEN},
                             webhook_secret=WEBHOOK_SECRET, webhook_url=URL)

    def request(body: bytes) -> WebhookRequest:
        url = URL + "?bodySHA256=" + hashlib.sha256(body).hexdigest()
        signature = compute_signature(url, {}, AUTH_TOKEN)
        return WebhookRequest("POST", url, {"X-Twilio-Signature": signature, "Content-Type": "application/json"}, body)

    return adapter, request


JSON_PROVIDERS = {
    "meta_cloud": meta,
    "waha": lambda: bridge("waha"),
    "evolution": lambda: bridge("evolution"),
    "telnyx": telnyx,
    "sandbox_whatsapp": lambda: sandbox(SandboxWhatsApp),
    "sandbox_voip": lambda: sandbox(SandboxVoip),
    "twilio_whatsapp_json": lambda: twilio_json(TwilioWhatsApp),
    "twilio_voice_json": lambda: twilio_json(TwilioVoice),
}

outcomes: dict[str, int] = {"events": 0, "malformed": 0, "refused": 0}


def run(adapter, request: WebhookRequest) -> None:
    try:
        adapter.authenticate_webhook(request)
        events = adapter.webhook_events(request)
    except ProviderRejected as exc:
        assert exc.code == "malformed"
        outcomes["malformed"] += 1
        return
    except WebhookSignatureError:
        outcomes["refused"] += 1
        return
    outcomes["events"] += 1
    for event in events:
        assert isinstance(event, InboundEvent)
        for name, limit in inbound.LIMITS.items():
            value = getattr(event, name)
            assert isinstance(value, str) and len(value) <= limit and "\x00" not in value
            value.encode("utf-8")
        json.dumps(event.raw, allow_nan=False).encode("utf-8")
        assert event.duration_seconds is None or 0 <= event.duration_seconds <= inbound.MAX_DURATION_SECONDS
        assert event.cost is None or 0 <= event.cost <= inbound.MAX_COST


@pytest.mark.parametrize("name", sorted(JSON_PROVIDERS))
def test_every_json_webhook_parser_answers_events_or_a_refusal(name):
    adapter, request = JSON_PROVIDERS[name]()

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=False)
    @given(body=bodies)
    def check(body):
        run(adapter, request(body))

    check()


@pytest.mark.parametrize("provider_class", [TwilioWhatsApp, TwilioVoice])
def test_every_twilio_form_webhook_parser_answers_events_or_a_refusal(provider_class):
    adapter = provider_class(config={"account_sid": ACCOUNT, "from_number": "+14155550100"}, credentials={"auth_token": AUTH_TOKEN},
                             webhook_secret=WEBHOOK_SECRET, webhook_url=URL)

    @settings(max_examples=EXAMPLES * 2, deadline=None, suppress_health_check=list(HealthCheck))
    @given(form=forms)
    def check(form):
        body = urlencode(form, doseq=True).encode()
        signature = compute_signature(URL, form, AUTH_TOKEN)
        headers = {"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"}
        run(adapter, WebhookRequest("POST", URL, headers, body, form=form))

    check()


header_values = st.text(max_size=40) | st.sampled_from(["9" * 400, "-" + "9" * 400, "1e999", "nan", "sha256=", "sha512", "\x00"])
urls = st.sampled_from([URL, "https://h:99999/webhooks/x/", "https://[::1/x", "http://a:b@c/", "", "https://h/x?bodySHA256=zz"])


@pytest.mark.parametrize("name", sorted(JSON_PROVIDERS) + ["twilio_whatsapp_form"])
def test_forged_headers_and_urls_are_refused_never_a_crash(name):
    """Unsigned traffic: any header value, any URL (Twilio signs the URL; a Host with port
    99999 once answered 500), any body: refused (403) or, for bridges without a signature,
    read as events."""
    if name == "twilio_whatsapp_form":
        adapter, _ = twilio_json(TwilioWhatsApp)
    else:
        adapter, _ = JSON_PROVIDERS[name]()
    names = ["X-Hub-Signature-256", "X-Twilio-Signature", "telnyx-signature-ed25519", "telnyx-timestamp",
             "X-Webhook-Hmac", "X-Webhook-Hmac-Algorithm", "X-Webhook-Token", "X-Sandbox-Signature", "Content-Type"]

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(headers=st.dictionaries(st.sampled_from(names), header_values, max_size=5), url=urls, body=bodies)
    def check(headers, url, body):
        request = WebhookRequest("POST", url, headers, body, query={"token": [headers.get("X-Webhook-Token", "")]})
        try:
            adapter.authenticate_webhook(request)
        except WebhookSignatureError:
            outcomes["refused"] += 1
        try:
            adapter.answer_handshake(WebhookRequest("GET", url, headers, b"", query={"hub.verify_token": [headers.get("Content-Type", "")]}))
        except WebhookSignatureError:
            pass

    check()
