import base64
import json
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from providers import events
from providers.errors import ProviderRejected, WebhookSignatureError
from providers.values import WebhookRequest
from providers.voip.telnyx import Telnyx
from tests.providers.contract import RECIPIENT, HttpProviderContract
from tests.providers.loopback import Reply

API_KEY = "KEY0190-telnyx-SECRET-abcdef"
CONNECTION = "1494404757140276705"
CALLER = "+18005550101"
PRIVATE_KEY = Ed25519PrivateKey.generate()
PUBLIC_KEY = base64.b64encode(PRIVATE_KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def telnyx_error(code, detail, status):
    return Reply(status=status, json={"errors": [{"code": str(code), "title": "Error", "detail": detail, "source": {"pointer": "/to"}}]})


class TestTelnyxContract(HttpProviderContract):
    provider_class = Telnyx
    secrets = {"api_key": API_KEY}
    required_fields = {"api_key", "connection_id", "from_number", "public_key"}
    operation = ("POST", "/v2/calls")
    health = ("GET", "/v2/balance")
    auth_error_code = "10009"
    recipient_error_code = "10015"
    expected_provider_id = "v3:MdI91X4lWFEs7IgbBEOT9M4AigoY08M0WWZFISt1Yw2axZ_IiE4pqg"

    def config(self, base_url):
        return {"connection_id": CONNECTION, "from_number": CALLER, "public_key": PUBLIC_KEY, "base_url": base_url}

    def authorized(self, request):
        return request.header("Authorization") == f"Bearer {API_KEY}"

    def unauthorized_reply(self):
        return telnyx_error(10009, "Authentication failed", 401)

    def success_reply(self):
        return Reply(json={"data": {"call_control_id": self.expected_provider_id, "call_leg_id": "2dc6fc34", "call_session_id": "2dc1b3c8", "is_alive": False, "record_type": "call"}})

    def healthy_reply(self):
        return Reply(json={"data": {"balance": "300.00", "available_credit": "400.00", "currency": "USD", "record_type": "balance"}})

    def unhealthy_reply(self):
        return Reply(json={"data": {"balance": "0.00", "available_credit": "0.00", "currency": "USD"}})

    def server_error_reply(self):
        return telnyx_error(10007, "Unexpected error", 500)

    def rate_limit_reply(self):
        return telnyx_error(10011, "Too many requests", 429)

    def recipient_error_reply(self):
        return telnyx_error(10015, "The destination number is invalid.", 422)

    def echo_error_body(self, text):
        return {"errors": [{"code": "10015", "detail": f"Bad value {text}"}]}

    def assert_operation_request(self, request):
        sent = request.json()
        assert sent["to"] == RECIPIENT and sent["from"] == CALLER and sent["connection_id"] == CONNECTION
        assert sent["webhook_url"].startswith("https://switchboard.example.com/webhooks/")

    def test_public_key_format(self):
        with pytest.raises(Exception) as caught:
            Telnyx.validate_config({**self.config("https://api.telnyx.com"), "public_key": "c2hvcnQ="}, self.secrets)
        assert set(caught.value.message_dict) == {"public_key"}


# ----- webhooks: Ed25519 with a key pair made here

BODY = json.dumps({"data": {
    "event_type": "call.hangup", "id": "0ccc7b54-4df3-4bca-a65a-3da1ecc777f0", "occurred_at": "2026-11-22T10:00:42.000000Z",
    "payload": {"call_control_id": "v3:abc", "from": CALLER, "to": RECIPIENT, "hangup_cause": "normal_clearing",
                "start_time": "2026-11-22T10:00:00Z", "end_time": "2026-11-22T10:00:42Z"},
}, "meta": {"attempt": 1}}).encode()


def adapter():
    return Telnyx(config={"public_key": PUBLIC_KEY}, credentials={"api_key": API_KEY})


def signed_request(body=BODY, *, timestamp=None, key=PRIVATE_KEY, signed_body=None):
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = base64.b64encode(key.sign(timestamp.encode() + b"|" + (signed_body or body))).decode()
    return WebhookRequest(method="POST", url="https://x/", body=body,
                          headers={"telnyx-signature-ed25519": signature, "telnyx-timestamp": timestamp})


def test_valid_signature_and_parsing():
    request = signed_request()
    adapter().verify_webhook(request)
    [event] = adapter().parse_webhook(request)
    assert (event.kind, event.provider_message_id, event.status, event.duration_seconds) == (
        events.CALL_STATUS, "v3:abc", events.CALL_COMPLETED, 42)


@pytest.mark.parametrize("request_factory", [
    pytest.param(lambda: signed_request(timestamp=int(time.time()) - 301), id="expired"),
    pytest.param(lambda: signed_request(timestamp=int(time.time()) + 301), id="future"),
    pytest.param(lambda: signed_request(key=Ed25519PrivateKey.generate()), id="other-key"),
    pytest.param(lambda: signed_request(signed_body=BODY.replace(b"hangup", b"answer")), id="tampered-body"),
    pytest.param(lambda: WebhookRequest(method="POST", url="https://x/", body=BODY, headers={}), id="missing"),
    pytest.param(lambda: WebhookRequest(method="POST", url="https://x/", body=BODY,
                                        headers={"telnyx-signature-ed25519": "%%%", "telnyx-timestamp": str(int(time.time()))}), id="garbage"),
])
def test_rejects_forged_or_stale_webhooks(request_factory):
    with pytest.raises(WebhookSignatureError):
        adapter().verify_webhook(request_factory())


def test_a_timestamp_just_inside_the_window_verifies():
    request = signed_request(timestamp=int(time.time()) - 299)
    adapter().verify_webhook(request)


def test_malformed_body_is_refused():
    with pytest.raises(ProviderRejected):
        adapter().parse_webhook(WebhookRequest(method="POST", url="https://x/", body=b"[1,", headers={}))
