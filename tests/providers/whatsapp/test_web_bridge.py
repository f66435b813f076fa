import hashlib
import hmac
import json

import pytest

from providers import events
from providers.errors import ProviderRejected, WebhookSignatureError
from providers.values import Attachment, OutboundMessage, WebhookRequest
from providers.whatsapp.web_bridge import WhatsAppWebBridge
from tests.providers.contract import RECIPIENT, HttpProviderContract
from tests.providers.fixture_files import load
from tests.providers.loopback import MALFORMED, LoopbackServer, Reply
from tests.providers.operations_contract import WhatsAppOperationsContract

API_KEY = "waha-API-key-7d9c8b7a"
HMAC_KEY = "whsec-CONTRACT-0123456789"


class BridgeOperations(WhatsAppOperationsContract):
    """Templates and interactive messages go out as text through the send endpoint."""

    unreadable_2xx_is_sent = True

    def text_sent(self, adapter):
        [request] = adapter.loopback.requests_to(*self.operation)
        return request.json()["text"]

    def check_template_sent(self, adapter, result, message):
        assert self.text_sent(adapter) == "Olá Ana, seu pedido A-1042 foi enviado."

    def check_interactive_sent(self, adapter, result, message):
        assert self.text_sent(adapter) == message.as_text()
        assert "1. " in self.text_sent(adapter) and "2. " in self.text_sent(adapter)

    def assert_nothing_sent(self, adapter):
        assert adapter.loopback.requests == []

    def test_a_template_without_text_is_refused_with_fail_over(self, adapter):
        from providers.values import TemplateMessage

        with pytest.raises(ProviderRejected) as caught:
            adapter.send_message(OutboundMessage(to=RECIPIENT, template=TemplateMessage(name="x", language="en")))
        assert (caught.value.code, caught.value.fail_over) == (events.ERROR_TEMPLATE_UNAVAILABLE, True)
        self.assert_nothing_sent(adapter)

    def test_a_2xx_whose_body_cannot_be_read_is_sent_not_retried(self, server, adapter):
        # The bridge sent the message: a retry would deliver it twice.
        for reply in (MALFORMED, Reply(status=201, body=b"")):
            server.queue(reply)
            result = adapter.send_message(OutboundMessage(to=RECIPIENT, body="x"))
            assert (result.status, result.provider_message_id) == (events.STATUS_SENT, "")


class TestWebBridgeContract(BridgeOperations, HttpProviderContract):
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
        return Reply(status=201, json=load("waha", "send_webjs_message_id.json"))

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

    @pytest.mark.parametrize("fixture,expected", [
        ("send_noweb_baileys.json", "true_111111111111@c.us_3EB08A6895830F110A5E4D"),
        ("send_noweb_wamessage.json", "true_97297273XXXXX@c.us_3EB075539C08D763E8AXXX"),
        ("send_webjs.json", "true_62811111123123@c.us_3EB0378E606CA43FEF38D2"),
        ("send_webjs_message_id.json", "true_14155550123@c.us_3EB0C767D26A1D0B6B"),
        ("send_gows.json", "true_14155550123@c.us_3EB0B9C6A2D7E41F6C01"),
    ])
    def test_every_engine_answer_is_read_as_the_id_acks_carry(self, server, adapter, fixture, expected):
        server.queue(Reply(status=201, json=load("waha", fixture)))
        result = adapter.send_message(OutboundMessage(to=RECIPIENT, body="x"))
        assert (result.provider_message_id, result.status) == (expected, events.STATUS_SENT)
        assert len(server.requests_to(*self.operation)) == 1

    def test_noweb_id_matches_the_ack_that_follows(self, server, adapter):
        server.queue(Reply(status=201, json=load("waha", "send_noweb_baileys.json")))
        sent = adapter.send_message(OutboundMessage(to=RECIPIENT, body="x"))
        [ack] = adapter.parse_webhook(request_for(load("waha", "ack_noweb_played.json")))
        assert ack.provider_message_id == sent.provider_message_id
        assert (ack.status, ack.provider_status) == (events.STATUS_READ, "played")

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
        assert webhook["customHeaders"] == [{"name": "X-Webhook-Token", "value": adapter.webhook_secret}]
        assert set(webhook["events"]) == {"message", "message.ack", "message.reaction", "session.status"}

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


def request_for(data, **headers):
    return WebhookRequest(method="POST", url="https://x/", body=json.dumps(data).encode(), headers=headers)


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


def test_an_unsigned_webhook_is_accepted_with_the_token_header_only():
    bridge = adapter()
    bridge.verify_webhook(WebhookRequest(method="POST", url="https://x/", body=ACK, headers={"X-Webhook-Token": HMAC_KEY}))
    for headers in ({"X-Webhook-Token": "guess"}, {}):
        with pytest.raises(WebhookSignatureError):
            bridge.verify_webhook(WebhookRequest(method="POST", url="https://x/", body=ACK, headers=headers))
    # A signature that is present must match, whatever token comes with it.
    with pytest.raises(WebhookSignatureError):
        bridge.verify_webhook(WebhookRequest(method="POST", url="https://x/", body=ACK,
                                             headers={"X-Webhook-Token": HMAC_KEY, "X-Webhook-Hmac": "00" * 64}))


def test_linked_id_sender_is_not_a_phone_number():
    [event] = adapter().parse_webhook(request_for(load("waha", "message_lid_noweb.json")))
    assert (event.kind, event.body, event.chat_id) == (events.INBOUND_MESSAGE, "Iya sist", "176369157804064@lid")
    assert (event.sender_kind, event.chat_kind, event.from_number) == (events.SENDER_LID, events.CHAT_DIRECT, "")
    assert event.provider_message_id == "false_176369157804064@lid_3A8E1EBFE4943CA06D82"


def test_linked_id_sender_gets_its_phone_when_the_engine_gives_it():
    data = load("waha", "message_lid_noweb.json")
    data["payload"]["_data"] = {"key": {"remoteJid": "176369157804064@lid", "remoteJidAlt": "5511987654321@s.whatsapp.net"}}
    [event] = adapter().parse_webhook(request_for(data))
    assert (event.sender_kind, event.from_number) == (events.SENDER_LID, "+5511987654321")


def test_gows_direct_message():
    [event] = adapter().parse_webhook(request_for(load("waha", "message_gows_direct.json")))
    assert (event.from_number, event.chat_kind, event.sender_kind, event.body) == (
        "+558591203123", events.CHAT_DIRECT, events.SENDER_PHONE, "responder texto")
    assert event.event_id == "evt_01kn2mhyrzz2bmh6xda0w3aftx"


def test_group_message_is_a_group_conversation_with_a_member_and_a_captioned_document():
    [event] = adapter().parse_webhook(request_for(load("waha", "message_gows_group_media.json")))
    assert (event.chat_id, event.chat_kind) == ("120363025246125486@g.us", events.CHAT_GROUP)
    assert (event.sender_id, event.from_number, event.to_number) == ("5511987654321@c.us", "+5511987654321", "")
    [attachment] = event.attachments
    assert (attachment.kind, attachment.filename, attachment.caption) == ("document", "nota.pdf", "Nota fiscal de março")
    assert event.body == "Nota fiscal de março"
    assert "+120363" not in (event.from_number, event.to_number)


def test_reaction_ack_and_session_fixtures():
    bridge = adapter()
    [reaction] = bridge.parse_webhook(request_for(load("waha", "reaction_gows.json")))
    assert (reaction.kind, reaction.reaction.emoji, reaction.related_message_id) == (
        events.REACTION, "👍", "true_14155550123@c.us_3EB0B9C6A2D7E41F6C01")
    [ack] = bridge.parse_webhook(request_for(load("waha", "ack_gows_read.json")))
    assert (ack.provider_message_id, ack.status) == ("true_14155550123@c.us_3EB0B9C6A2D7E41F6C01", events.STATUS_READ)
    [session] = bridge.parse_webhook(request_for(load("waha", "session_status_failed.json")))
    assert (session.status, session.provider_status) == (events.SESSION_FAILED, "FAILED")


def test_an_ack_of_a_message_sent_to_us_moves_nothing():
    data = load("waha", "ack_gows_read.json")
    data["payload"]["fromMe"] = False
    assert adapter().parse_webhook(request_for(data)) == []


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

class TestEvolutionVariantContract(BridgeOperations, HttpProviderContract):
    provider_class = WhatsAppWebBridge
    secrets = {"api_key": API_KEY}
    required_fields = {"base_url", "api_key"}
    operation = ("POST", "/message/sendText/main")
    health = ("GET", "/instance/connectionState/main")
    auth_error_code = "401"
    recipient_error_code = "not_on_whatsapp"
    expected_provider_id = "BAE594145F4C59B4"

    def config(self, base_url):
        return {"base_url": base_url, "session": "main", "api": "evolution"}

    def authorized(self, request):
        return request.header("apikey") == API_KEY

    def unauthorized_reply(self):
        return Reply(status=401, json={"status": 401, "error": "Unauthorized", "response": {"message": "Unauthorized"}})

    def success_reply(self):
        return Reply(status=201, json=load("evolution", "send_text_answer.json"))

    def healthy_reply(self):
        return Reply(json={"instance": {"instanceName": "main", "state": "open"}})

    def unhealthy_reply(self):
        return Reply(json={"instance": {"instanceName": "main", "state": "close"}})

    def rate_limit_reply(self):
        return Reply(status=429, json={"error": "Too Many Requests"})

    def recipient_error_reply(self):
        return Reply(status=400, json=load("evolution", "error_not_on_whatsapp.json"))

    def server_error_reply(self):
        return Reply(status=500, json=load("evolution", "error_server.json"))

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

    def test_setup_creates_the_instance_with_a_token_header(self, server, adapter):
        server.route("POST", "/instance/create", Reply(status=201, json={"instance": {"instanceName": "main"}}))
        adapter.setup()
        created = server.requests_to("POST", "/instance/create")[0].json()
        assert created["instanceName"] == "main"
        # Evolution echoes the webhook URL in every payload (``destination``): no token in it.
        assert created["webhook"]["url"] == adapter.webhook_url
        assert created["webhook"]["headers"] == {"X-Webhook-Token": adapter.webhook_secret}

    def test_error_messages_are_read_from_the_nested_response(self, server, adapter):
        server.queue(Reply(status=400, json=load("evolution", "error_validation.json")))
        with pytest.raises(ProviderRejected) as caught:
            adapter.send_message(OutboundMessage(to=RECIPIENT, body="x"))
        assert 'instance requires property "text"' in caught.value.message
        assert (caught.value.code, caught.value.fail_over) == ("400", False)
        server.queue(Reply(status=400, json=load("evolution", "error_not_on_whatsapp.json")))
        with pytest.raises(ProviderRejected) as caught:
            adapter.send_message(OutboundMessage(to=RECIPIENT, body="x"))
        assert "not on WhatsApp" in caught.value.message and "274860794187802" not in caught.value.message

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


def test_evolution_linked_id_senders():
    bridge = evolution()
    [alone] = bridge.parse_webhook(request_for(load("evolution", "upsert_lid_only.json")))
    assert (alone.chat_id, alone.sender_kind, alone.from_number, alone.body) == ("13718@lid", events.SENDER_LID, "", "Oi")
    [with_alt] = bridge.parse_webhook(request_for(load("evolution", "upsert_lid_with_alt.json")))
    assert (with_alt.sender_kind, with_alt.from_number) == (events.SENDER_LID, "+5511987654321")
    assert "apikey" not in with_alt.raw and "destination" not in with_alt.raw


def test_evolution_group_and_media_with_captions():
    bridge = evolution()
    [group] = bridge.parse_webhook(request_for(load("evolution", "upsert_group.json")))
    assert (group.chat_kind, group.chat_id, group.sender_id) == (events.CHAT_GROUP, "120363150000000000@g.us", "55479888888@s.whatsapp.net")
    assert (group.from_number, group.sender_kind) == ("+55479888888", events.SENDER_PHONE)
    [image] = bridge.parse_webhook(request_for(load("evolution", "upsert_image_caption.json")))
    [attachment] = image.attachments
    assert (image.body, attachment.caption, attachment.mime_type) == ("Foto do produto com defeito",) * 2 + ("image/jpeg",)
    assert attachment.url == "evolution-media:3EB0IMAGE0CAPTION00001"
    [document] = bridge.parse_webhook(request_for(load("evolution", "upsert_document_caption_s3.json")))
    [attachment] = document.attachments
    assert (attachment.url, attachment.filename, attachment.caption, attachment.kind) == (
        "https://s3.example.com/evolution/main/3EB0DOC0CAPTION000001.pdf", "comprovante.pdf", "Segue o comprovante", "document")


def test_evolution_updates_and_refused_connection():
    bridge = evolution()
    assert bridge.parse_webhook(request_for(load("evolution", "update_read_of_inbound.json"))) == []
    [delivered] = bridge.parse_webhook(request_for(load("evolution", "update_delivered.json")))
    assert (delivered.provider_message_id, delivered.status) == ("BAE594145F4C59B4", events.STATUS_DELIVERED)
    [refused] = bridge.parse_webhook(request_for(load("evolution", "connection_refused.json")))
    assert (refused.kind, refused.status, refused.provider_status) == (events.SESSION_STATUS, events.SESSION_FAILED, "refused")


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
