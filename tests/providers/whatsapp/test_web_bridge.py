import hashlib
import hmac
import json

import pytest

from providers import events
from providers.errors import ProviderRejected, WebhookSignatureError
from providers.values import Attachment, OutboundMessage, WebhookRequest
from providers.whatsapp.web_bridge import WhatsAppWebBridge
from tests.providers.contract import RECIPIENT, HttpProviderContract
from tests.providers.loopback import LoopbackServer, Reply

API_KEY = "waha-API-key-7d9c8b7a"
HMAC_KEY = "whsec-CONTRACT-0123456789"


class TestWebBridgeContract(HttpProviderContract):
    provider_class = WhatsAppWebBridge
    secrets = {"api_key": API_KEY}
    required_fields = {"base_url", "api_key"}
    operation = ("POST", "/api/sendText")
    health = ("GET", "/api/sessions/default")
    auth_error_code = "401"
    recipient_error_code = "422"
    expected_provider_id = "true_14155550123@c.us_3EB0C767D26A1D0B6B"

    def config(self, base_url):
        return {"base_url": base_url, "session": "default"}

    def authorized(self, request):
        return request.header("X-Api-Key") == API_KEY

    def unauthorized_reply(self):
        return Reply(status=401, json={"message": "Unauthorized", "statusCode": 401})

    def success_reply(self):
        return Reply(status=201, json={"id": {"fromMe": True, "remote": "14155550123@c.us", "_serialized": self.expected_provider_id}})

    def healthy_reply(self):
        return Reply(json={"name": "default", "status": "WORKING", "me": {"id": "15550001111@c.us"}})

    def unhealthy_reply(self):
        return Reply(json={"name": "default", "status": "FAILED"})

    def rate_limit_reply(self):
        return Reply(status=429, json={"message": "Too many requests"})

    def recipient_error_reply(self):
        return Reply(status=422, json={"message": "chatId is not a WhatsApp user", "statusCode": 422})

    def echo_error_body(self, text):
        return {"message": f"bad key {text}"}

    def assert_operation_request(self, request):
        assert request.json() == {"session": "default", "chatId": "14155550123@c.us", "text": "Hello from the contract"}

    # ----- bridge specifics

    def test_a_plain_string_id_is_read_too(self, server, adapter):
        server.queue(Reply(status=201, json={"id": "false_1@c.us_ABC"}))
        assert adapter.send_message(OutboundMessage(to=RECIPIENT, body="x")).provider_message_id == "false_1@c.us_ABC"

    def test_sends_a_document_through_the_file_endpoint(self, server, adapter):
        server.route("POST", "/api/sendFile", Reply(status=201, json={"id": "true_1@c.us_DOC"}))
        adapter.send_message(OutboundMessage(to=RECIPIENT, body="invoice", attachments=(
            Attachment(url="https://cdn.example.com/a.pdf", mime_type="application/pdf", filename="a.pdf"),)))
        sent = server.requests_to("POST", "/api/sendFile")[0].json()
        assert sent["file"] == {"url": "https://cdn.example.com/a.pdf", "mimetype": "application/pdf", "filename": "a.pdf"}
        assert sent["caption"] == "invoice" and sent["chatId"] == "14155550123@c.us"

    def test_setup_creates_the_session_with_our_webhook_and_hmac_key(self, server, adapter):
        server.route("POST", "/api/sessions", Reply(status=201, json={"name": "default", "status": "STARTING"}))
        adapter.setup()
        created = server.requests_to("POST", "/api/sessions")[0].json()
        assert created["name"] == "default" and created["start"] is True
        [webhook] = created["config"]["webhooks"]
        assert webhook["url"] == adapter.webhook_url
        assert webhook["hmac"] == {"key": adapter.webhook_secret}
        assert set(webhook["events"]) == {"message", "message.ack", "session.status"}

    def test_setup_updates_and_starts_an_existing_session(self, server, adapter):
        server.route("POST", "/api/sessions", Reply(status=422, json={"message": "Session already exists"}))
        server.route("PUT", "/api/sessions/default", Reply(json={"name": "default"}))
        server.route("POST", "/api/sessions/default/start", Reply(status=201, json={"name": "default"}))
        adapter.setup()
        assert server.requests_to("PUT", "/api/sessions/default")[0].json()["config"]["webhooks"][0]["url"] == adapter.webhook_url
        assert server.requests_to("POST", "/api/sessions/default/start")

    def test_teardown_stops_the_session(self, server, adapter):
        server.route("POST", "/api/sessions/default/stop", Reply(status=201, json={"name": "default", "status": "STOPPED"}))
        adapter.teardown()
        assert server.requests_to("POST", "/api/sessions/default/stop")

    def test_pairing_state_returns_the_qr_while_scanning(self, server, adapter):
        server.route(*self.health, Reply(json={"name": "default", "status": "SCAN_QR_CODE"}))
        server.route("GET", "/api/default/auth/qr", Reply(json={"mimetype": "image/png", "data": "iVBORw0KGgo="}))
        state = adapter.pairing_state()
        assert (state.status, state.qr_mimetype, state.qr_base64, state.paired) == (events.SESSION_SCAN_QR, "image/png", "iVBORw0KGgo=", False)
        assert server.requests_to("GET", "/api/default/auth/qr")[0].header("Accept") == "application/json"

    def test_pairing_state_has_no_qr_once_working(self, server, adapter):
        state = adapter.pairing_state()
        assert state.paired and state.qr_base64 == ""
        assert not server.requests_to("GET", "/api/default/auth/qr")

    def test_scanning_session_is_degraded(self, server, adapter):
        server.route(*self.health, Reply(json={"name": "default", "status": "SCAN_QR_CODE"}))
        assert adapter.test_connection().status == "degraded"


# ----- webhooks: HMAC-SHA512

def sign(body, key=HMAC_KEY):
    return hmac.new(key.encode(), body, hashlib.sha512).hexdigest()


def adapter():
    return WhatsAppWebBridge(config={"base_url": "http://127.0.0.1:9"}, credentials={"api_key": API_KEY}, webhook_secret=HMAC_KEY)


def test_known_vector():
    # RFC 4231 test case 2: HMAC-SHA512(key="Jefe", "what do ya want for nothing?").
    expected = ("164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737")
    bridge = WhatsAppWebBridge(config={}, credentials={}, webhook_secret="Jefe")
    bridge.verify_webhook(WebhookRequest(method="POST", url="https://x/", body=b"what do ya want for nothing?",
                                         headers={"X-Webhook-Hmac": expected, "X-Webhook-Hmac-Algorithm": "sha512"}))


ACK = json.dumps({"id": "evt_01", "timestamp": 1700000000000, "event": "message.ack", "session": "default",
                  "payload": {"id": "true_1@c.us_X", "ack": 3, "ackName": "READ"}}).encode()
INBOUND = json.dumps({"id": "evt_02", "timestamp": 1700000000000, "event": "message", "session": "default",
                      "payload": {"id": "false_14155550123@c.us_Y", "from": "14155550123@c.us", "to": "15550001111@c.us",
                                  "fromMe": False, "body": "hello", "hasMedia": False}}).encode()
SESSION = json.dumps({"id": "evt_03", "event": "session.status", "session": "default", "payload": {"status": "WORKING"}}).encode()


def test_parses_acks_inbound_messages_and_session_status():
    bridge = adapter()
    [ack] = bridge.parse_webhook(WebhookRequest(method="POST", url="https://x/", body=ACK, headers={}))
    assert (ack.kind, ack.provider_message_id, ack.status) == (events.MESSAGE_STATUS, "true_1@c.us_X", events.STATUS_READ)
    [inbound] = bridge.parse_webhook(WebhookRequest(method="POST", url="https://x/", body=INBOUND, headers={}))
    assert (inbound.kind, inbound.from_number, inbound.body) == (events.INBOUND_MESSAGE, "+14155550123", "hello")
    [session] = bridge.parse_webhook(WebhookRequest(method="POST", url="https://x/", body=SESSION, headers={}))
    assert (session.kind, session.status) == (events.SESSION_STATUS, events.SESSION_WORKING)


@pytest.mark.parametrize("tamper", ["body", "signature", "key", "algorithm", "missing"])
def test_rejects_tampering(tamper):
    body, headers = ACK, {"X-Webhook-Hmac": sign(ACK), "X-Webhook-Hmac-Algorithm": "sha512"}
    if tamper == "body":
        body = ACK.replace(b"READ", b"PLAYED")
    elif tamper == "signature":
        headers["X-Webhook-Hmac"] = sign(ACK)[:-2] + "00"
    elif tamper == "key":
        headers["X-Webhook-Hmac"] = sign(ACK, "other")
    elif tamper == "algorithm":
        headers["X-Webhook-Hmac-Algorithm"] = "sha1"
    elif tamper == "missing":
        headers = {}
    with pytest.raises(WebhookSignatureError):
        adapter().verify_webhook(WebhookRequest(method="POST", url="https://x/", body=body, headers=headers))


def test_voice_messages_cannot_carry_text():
    with LoopbackServer() as server:
        bridge = WhatsAppWebBridge(config={"base_url": server.url}, credentials={"api_key": API_KEY})
        with pytest.raises(ProviderRejected):
            bridge.send_message(OutboundMessage(to=RECIPIENT, body="hi", attachments=(Attachment(url="https://x/a.ogg", mime_type="audio/ogg"),)))
        assert server.requests == []


# ----- the Evolution API variant

class TestEvolutionVariantContract(HttpProviderContract):
    provider_class = WhatsAppWebBridge
    secrets = {"api_key": API_KEY}
    required_fields = {"base_url", "api_key"}
    operation = ("POST", "/message/sendText/main")
    health = ("GET", "/instance/connectionState/main")
    auth_error_code = "401"
    recipient_error_code = "400"
    expected_provider_id = "BAE594145F4C59B4"

    def config(self, base_url):
        return {"base_url": base_url, "session": "main", "api": "evolution"}

    def authorized(self, request):
        return request.header("apikey") == API_KEY

    def unauthorized_reply(self):
        return Reply(status=401, json={"status": 401, "error": "Unauthorized", "response": {"message": "Unauthorized"}})

    def success_reply(self):
        return Reply(status=201, json={"key": {"remoteJid": "14155550123@s.whatsapp.net", "fromMe": True, "id": self.expected_provider_id},
                                       "status": "PENDING"})

    def healthy_reply(self):
        return Reply(json={"instance": {"instanceName": "main", "state": "open"}})

    def unhealthy_reply(self):
        return Reply(json={"instance": {"instanceName": "main", "state": "close"}})

    def rate_limit_reply(self):
        return Reply(status=429, json={"error": "Too Many Requests"})

    def recipient_error_reply(self):
        return Reply(status=400, json={"status": 400, "error": "Bad Request", "response": {"message": [{"exists": False}]}})

    def echo_error_body(self, text):
        return {"error": f"bad key {text}"}

    def assert_operation_request(self, request):
        assert request.json() == {"number": "14155550123", "text": "Hello from the contract"}

    def test_sends_media_by_url(self, server, adapter):
        server.route("POST", "/message/sendMedia/main", Reply(status=201, json={"key": {"id": "MEDIA1"}}))
        adapter.send_message(OutboundMessage(to=RECIPIENT, body="look", attachments=(
            Attachment(url="https://cdn.example.com/a.jpg", mime_type="image/jpeg"),)))
        assert server.requests_to("POST", "/message/sendMedia/main")[0].json() == {
            "number": "14155550123", "mediatype": "image", "media": "https://cdn.example.com/a.jpg",
            "mimetype": "image/jpeg", "caption": "look"}

    def test_setup_creates_the_instance_with_a_tokened_webhook(self, server, adapter):
        server.route("POST", "/instance/create", Reply(status=201, json={"instance": {"instanceName": "main"}}))
        adapter.setup()
        created = server.requests_to("POST", "/instance/create")[0].json()
        assert created["instanceName"] == "main"
        assert created["webhook"]["url"] == adapter.webhook_url + "?token=" + adapter.webhook_secret

    def test_pairing_reads_the_qr_from_connect(self, server, adapter):
        server.route(*self.health, Reply(json={"instance": {"instanceName": "main", "state": "connecting"}}))
        server.route("GET", "/instance/connect/main", Reply(json={"code": "2@abc", "base64": "data:image/png;base64,iVBORw0K"}))
        state = adapter.pairing_state()
        assert (state.status, state.qr_mimetype, state.qr_base64) == (events.SESSION_SCAN_QR, "image/png", "iVBORw0K")


def evolution():
    return WhatsAppWebBridge(config={"base_url": "http://127.0.0.1:9", "api": "evolution"}, credentials={"api_key": API_KEY},
                             webhook_secret=HMAC_KEY)


UPSERT = json.dumps({"event": "messages.upsert", "instance": "main", "data": {
    "key": {"remoteJid": "14155550123@s.whatsapp.net", "fromMe": False, "id": "IN1"},
    "message": {"conversation": "oi"}, "messageTimestamp": 1700000000}}).encode()


def test_evolution_webhook_token_in_query_or_header():
    bridge = evolution()
    bridge.verify_webhook(WebhookRequest(method="POST", url="https://x/", body=UPSERT, headers={}, query={"token": [HMAC_KEY]}))
    bridge.verify_webhook(WebhookRequest(method="POST", url="https://x/", body=UPSERT, headers={"X-Webhook-Token": HMAC_KEY}))
    for query in ({}, {"token": ["guess"]}):
        with pytest.raises(WebhookSignatureError):
            bridge.verify_webhook(WebhookRequest(method="POST", url="https://x/", body=UPSERT, headers={}, query=query))


def test_evolution_webhook_parsing():
    bridge = evolution()
    [inbound] = bridge.parse_webhook(WebhookRequest(method="POST", url="https://x/", body=UPSERT, headers={}))
    assert (inbound.kind, inbound.from_number, inbound.body, inbound.provider_message_id) == (
        events.INBOUND_MESSAGE, "+14155550123", "oi", "IN1")
    update = json.dumps({"event": "messages.update", "data": {"keyId": "OUT1", "status": "DELIVERY_ACK"}}).encode()
    [status] = bridge.parse_webhook(WebhookRequest(method="POST", url="https://x/", body=update, headers={}))
    assert (status.kind, status.provider_message_id, status.status) == (events.MESSAGE_STATUS, "OUT1", events.STATUS_DELIVERED)
    connection = json.dumps({"event": "connection.update", "data": {"state": "open"}}).encode()
    [session] = bridge.parse_webhook(WebhookRequest(method="POST", url="https://x/", body=connection, headers={}))
    assert session.status == events.SESSION_WORKING
