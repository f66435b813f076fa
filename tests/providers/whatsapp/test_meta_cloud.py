import hashlib
import hmac
import json

import pytest

from providers import events
from providers.errors import ProviderRejected, WebhookSignatureError
from providers.values import Attachment, OutboundMessage, WebhookRequest
from providers.whatsapp.meta_cloud import MetaCloudWhatsApp
from tests.providers.contract import RECIPIENT, HttpProviderContract
from tests.providers.loopback import Reply

TOKEN = "EAAG-meta-ACCESS-token-000111"
APP_SECRET = "meta-APP-secret-8c1f"
PHONE_ID = "106540352242922"
MESSAGES_PATH = f"/v21.0/{PHONE_ID}/messages"


def meta_error(code, message, status):
    return Reply(status=status, json={"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "A1"}})


class TestMetaCloudContract(HttpProviderContract):
    provider_class = MetaCloudWhatsApp
    secrets = {"access_token": TOKEN, "app_secret": APP_SECRET}
    required_fields = {"phone_number_id", "access_token", "app_secret"}
    operation = ("POST", MESSAGES_PATH)
    health = ("GET", f"/v21.0/{PHONE_ID}")
    auth_error_code = "190"
    recipient_error_code = "131026"
    expected_provider_id = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI"

    def config(self, base_url):
        return {"phone_number_id": PHONE_ID, "api_version": "v21.0", "base_url": base_url}

    def authorized(self, request):
        return request.header("Authorization") == f"Bearer {TOKEN}"

    def unauthorized_reply(self):
        return meta_error(190, "Invalid OAuth access token - Cannot parse access token", 401)

    def success_reply(self):
        return Reply(json={
            "messaging_product": "whatsapp",
            "contacts": [{"input": RECIPIENT, "wa_id": RECIPIENT[1:]}],
            "messages": [{"id": self.expected_provider_id}],
        })

    def healthy_reply(self):
        return Reply(json={"health_status": {"can_send_message": "AVAILABLE", "entities": []}, "id": PHONE_ID})

    def unhealthy_reply(self):
        return Reply(json={"health_status": {"can_send_message": "BLOCKED", "entities": []}, "id": PHONE_ID})

    def rate_limit_reply(self):
        return meta_error(130429, "(#130429) Rate limit hit", 400)

    def recipient_error_reply(self):
        return meta_error(131026, "Message undeliverable", 400)

    def echo_error_body(self, text):
        return {"error": {"message": f"(#100) Invalid parameter {text}", "code": 100}}

    def assert_operation_request(self, request):
        assert request.json() == {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": RECIPIENT,
            "type": "text",
            "text": {"body": "Hello from the contract", "preview_url": False},
        }

    # ----- Meta specifics

    def test_invalid_parameter_is_final(self, server, adapter):
        server.queue(meta_error(100, "(#100) Invalid parameter", 400))
        with pytest.raises(ProviderRejected) as caught:
            adapter.send_message(OutboundMessage(to=RECIPIENT, body="x"))
        assert (caught.value.code, caught.value.fail_over) == ("100", False)

    def test_sends_an_image_by_link_with_the_body_as_caption(self, server, adapter):
        adapter.send_message(OutboundMessage(
            to=RECIPIENT, body="Your invoice", attachments=(Attachment(url="https://cdn.example.com/a.png", mime_type="image/png"),)
        ))
        sent = server.requests_to(*self.operation)[0].json()
        assert sent["type"] == "image"
        assert sent["image"] == {"link": "https://cdn.example.com/a.png", "caption": "Your invoice"}

    def test_sends_a_document_with_its_filename(self, server, adapter):
        adapter.send_message(OutboundMessage(
            to=RECIPIENT,
            attachments=(Attachment(url="https://cdn.example.com/a.pdf", mime_type="application/pdf", filename="a.pdf"),),
        ))
        sent = server.requests_to(*self.operation)[0].json()
        assert sent["document"] == {"link": "https://cdn.example.com/a.pdf", "filename": "a.pdf"}

    def test_refuses_two_attachments_and_audio_with_text_without_calling(self, server, adapter):
        two = tuple(Attachment(url=f"https://cdn.example.com/{i}.png", mime_type="image/png") for i in range(2))
        with pytest.raises(ProviderRejected, match="one attachment"):
            adapter.send_message(OutboundMessage(to=RECIPIENT, attachments=two))
        audio = (Attachment(url="https://cdn.example.com/a.ogg", mime_type="audio/ogg"),)
        with pytest.raises(ProviderRejected, match="cannot carry text"):
            adapter.send_message(OutboundMessage(to=RECIPIENT, body="hi", attachments=audio))
        assert server.requests == []

    def test_invalid_recipient_is_refused_before_calling(self, server, adapter):
        with pytest.raises(ProviderRejected) as caught:
            adapter.send_message(OutboundMessage(to="12", body="x"))
        assert caught.value.code == "invalid_recipient"
        assert server.requests == []

    def test_config_formats(self):
        with pytest.raises(Exception) as caught:
            MetaCloudWhatsApp.validate_config({"phone_number_id": "abc", "api_version": "21"}, self.secrets)
        assert set(caught.value.message_dict) == {"phone_number_id", "api_version"}


# ----- webhooks: known vector and tampering

BODY = json.dumps({
    "object": "whatsapp_business_account",
    "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": PHONE_ID},
        "messages": [{"from": "16505551234", "id": "wamid.IN1", "timestamp": "1700000000", "type": "text", "text": {"body": "hi there"}}],
        "statuses": [{"id": "wamid.OUT1", "status": "delivered", "timestamp": "1700000001", "recipient_id": "16505551234"},
                     {"id": "wamid.OUT2", "status": "failed", "timestamp": "1700000002", "recipient_id": "16505551234",
                      "errors": [{"code": 131049, "title": "Not delivered", "message": "Meta chose not to deliver."}]}],
    }}]}],
}, separators=(",", ":")).encode()


def adapter_for_webhooks():
    return MetaCloudWhatsApp(
        config={"phone_number_id": PHONE_ID}, credentials={"access_token": TOKEN, "app_secret": APP_SECRET},
        webhook_secret="fallback-verify-token",
    )


def signed(body, secret=APP_SECRET):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_known_signature_vector():
    # HMAC-SHA256("It's a Secret to Everybody", "Hello, World!"), the example in GitHub's and
    # Meta's webhook docs.
    adapter = MetaCloudWhatsApp(config={}, credentials={"app_secret": "It's a Secret to Everybody"})
    adapter.verify_webhook(WebhookRequest(
        method="POST", url="https://x/", body=b"Hello, World!",
        headers={"X-Hub-Signature-256": "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"},
    ))


def test_valid_signature_and_parsing():
    adapter = adapter_for_webhooks()
    request = WebhookRequest(method="POST", url="https://x/", body=BODY, headers={"X-Hub-Signature-256": signed(BODY)})
    adapter.verify_webhook(request)
    inbound, delivered, failed = adapter.parse_webhook(request)
    assert (inbound.kind, inbound.from_number, inbound.to_number, inbound.body) == (
        events.INBOUND_MESSAGE, "+16505551234", "+15550001111", "hi there")
    assert (delivered.kind, delivered.provider_message_id, delivered.status) == (events.MESSAGE_STATUS, "wamid.OUT1", "delivered")
    assert (failed.status, failed.error_code, failed.error_message) == ("failed", "131049", "Meta chose not to deliver.")


@pytest.mark.parametrize("tamper", ["body", "signature", "secret", "missing", "prefix"])
def test_tampered_webhooks_are_rejected(tamper):
    body, header = BODY, signed(BODY)
    if tamper == "body":
        body = BODY.replace(b"hi there", b"hi thera")
    elif tamper == "signature":
        header = header[:-1] + ("0" if header[-1] != "0" else "1")
    elif tamper == "secret":
        header = signed(BODY, "another-secret")
    elif tamper == "prefix":
        header = header.replace("sha256=", "sha1=")
    headers = {} if tamper == "missing" else {"X-Hub-Signature-256": header}
    with pytest.raises(WebhookSignatureError):
        adapter_for_webhooks().verify_webhook(WebhookRequest(method="POST", url="https://x/", body=body, headers=headers))


def test_handshake_answers_the_challenge_only_for_the_right_token():
    adapter = adapter_for_webhooks()
    ok = WebhookRequest(method="GET", url="https://x/", headers={},
                        query={"hub.mode": ["subscribe"], "hub.verify_token": ["fallback-verify-token"], "hub.challenge": ["1158201444"]})
    response = adapter.handshake(ok)
    assert (response.status, response.body) == (200, "1158201444")
    bad = WebhookRequest(method="GET", url="https://x/", headers={},
                         query={"hub.mode": ["subscribe"], "hub.verify_token": ["guess"], "hub.challenge": ["1"]})
    with pytest.raises(WebhookSignatureError):
        adapter.handshake(bad)
