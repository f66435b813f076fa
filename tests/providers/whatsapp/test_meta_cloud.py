import hashlib
import hmac
import json

import pytest

from providers import events
from providers.errors import ProviderConfigurationError, ProviderRejected, WebhookSignatureError
from providers.values import (
    Attachment,
    OutboundMessage,
    TemplateButtonValue,
    TemplateHeader,
    TemplateMapping,
    TemplateMessage,
    TemplateStatus,
    WebhookRequest,
)
from providers.whatsapp.meta_cloud import MetaCloudWhatsApp
from tests.providers.contract import RECIPIENT, HttpProviderContract
from tests.providers.fixture_files import load, raw
from tests.providers.loopback import LoopbackServer, Reply
from tests.providers.operations_contract import WhatsAppOperationsContract

TOKEN = "EAAG-meta-ACCESS-token-000111"
APP_SECRET = "meta-APP-secret-8c1f"
PHONE_ID = "106540352242922"
WABA_ID = "102290129340398"
MESSAGES_PATH = f"/v21.0/{PHONE_ID}/messages"
TEMPLATES_PATH = f"/v21.0/{WABA_ID}/message_templates"
MEDIA_ID = "137524587935346"


def meta_error(code, message, status):
    return Reply(status=status, json={"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "A1"}})


class TestMetaCloudContract(WhatsAppOperationsContract, HttpProviderContract):
    provider_class = MetaCloudWhatsApp
    secrets = {"access_token": TOKEN, "app_secret": APP_SECRET}
    required_fields = {"phone_number_id", "access_token", "app_secret"}
    operation = ("POST", MESSAGES_PATH)
    health = ("GET", f"/v21.0/{PHONE_ID}")
    auth_error_code = "190"
    recipient_error_code = "131026"
    expected_provider_id = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI"

    def config(self, base_url):
        return {"phone_number_id": PHONE_ID, "waba_id": WABA_ID, "api_version": "v21.0", "base_url": base_url}

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

    # ----- optional operations (the shared contract's hooks)

    def sent(self, adapter):
        [request] = adapter.loopback.requests_to(*self.operation)
        return request.json()

    def check_template_sent(self, adapter, result, message):
        sent = self.sent(adapter)
        assert (sent["type"], sent["to"], sent["biz_opaque_callback_data"]) == ("template", RECIPIENT, "msg-tpl-1")
        assert sent["template"] == {"name": "order_update", "language": {"code": "pt_BR"}, "components": [
            {"type": "body", "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "A-1042"}]}]}

    def check_interactive_sent(self, adapter, result, message):
        interactive = self.sent(adapter)["interactive"]
        if message.kind == "buttons":
            assert interactive == {"type": "button", "body": {"text": "Confirm the delivery on Friday?"}, "action": {"buttons": [
                {"type": "reply", "reply": {"id": "yes", "title": "Yes"}}, {"type": "reply", "reply": {"id": "no", "title": "No"}}]}}
        else:
            assert interactive == {"type": "list", "body": {"text": "Pick a slot"}, "action": {"button": "Slots", "sections": [
                {"title": "Friday", "rows": [{"id": "fri-am", "title": "Morning", "description": "8-12"},
                                             {"id": "fri-pm", "title": "Afternoon"}]}]}}

    def assert_nothing_sent(self, adapter):
        assert adapter.loopback.requests == []

    def prepare_templates(self, adapter):
        pages = {None: load("meta", "templates_page_1.json"), "QVFIUnhodGFpT0R3": load("meta", "templates_page_2.json")}
        adapter.loopback.route("GET", TEMPLATES_PATH, lambda request: Reply(json=pages[(request.query.get("after") or [None])[0]]))
        return {("seasonal_promotion", "en_US", TemplateStatus.APPROVED), ("order_confirmation", "en_US", TemplateStatus.PENDING),
                ("coupon_code_fall2023_25off", "en_US", TemplateStatus.REJECTED)}

    def serve_media(self, adapter, content, mime_type):
        info = {**load("meta", "media_info.json"), "url": f"{adapter.loopback.url}/whatsapp_business/attachments/", "file_size": len(content)}
        adapter.loopback.route("GET", f"/v21.0/{MEDIA_ID}", Reply(json=info))
        adapter.loopback.route("GET", "/whatsapp_business/attachments/", Reply(body=content, headers={"Content-Type": mime_type}))
        return f"meta-media:{MEDIA_ID}"

    def test_imported_templates_are_described_provider_neutrally(self, server, adapter):
        self.prepare_templates(adapter)
        promotion, confirmation, coupon = adapter.list_templates()
        assert (promotion.provider_template_id, promotion.category, promotion.header_format) == ("594425479261596", "marketing", "text")
        assert promotion.body.startswith("Shop now through {{1}}") and promotion.variables == ("1", "2", "3")
        assert [b.kind for b in promotion.buttons] == ["quick_reply", "quick_reply"] and promotion.rejection_reason == ""
        assert (confirmation.header_format, [b.kind for b in confirmation.buttons]) == ("document", ["phone_number", "url"])
        assert (coupon.status, coupon.rejection_reason) == (TemplateStatus.REJECTED, "INVALID_FORMAT")
        first, second = server.requests_to("GET", TEMPLATES_PATH)
        assert "after" not in first.query and second.query["after"] == ["QVFIUnhodGFpT0R3"]
        assert all(self.authorized(r) for r in (first, second))

    def test_template_import_reads_at_most_max_pages(self, server, adapter):
        server.route("GET", TEMPLATES_PATH, Reply(json=load("meta", "templates_page_1.json")))  # always has "next"
        assert len(adapter.list_templates(max_pages=3)) == 6
        assert len(server.requests_to("GET", TEMPLATES_PATH)) == 3

    def test_template_import_needs_the_business_account_id(self, server):
        adapter = self.make_adapter(server.url, waba_id="")
        with pytest.raises(ProviderConfigurationError):
            adapter.list_templates()
        assert server.requests == []

    def test_template_with_named_variables_header_media_and_buttons(self, server, adapter):
        adapter.send_message(OutboundMessage(to=RECIPIENT, template=TemplateMessage(
            name="order_update", language="pt_BR", variables={"customer": "Ana"},
            header=TemplateHeader(media_url="https://cdn.example.com/r.pdf", media_kind="document", filename="r.pdf"),
            buttons=(TemplateButtonValue(index=0, kind="quick_reply", value="stop"), TemplateButtonValue(index=1, kind="url", value="A-1")),
        )))
        assert self.sent(adapter)["template"]["components"] == [
            {"type": "header", "parameters": [{"type": "document", "document": {"link": "https://cdn.example.com/r.pdf", "filename": "r.pdf"}}]},
            {"type": "body", "parameters": [{"type": "text", "parameter_name": "customer", "text": "Ana"}]},
            {"type": "button", "sub_type": "quick_reply", "index": "0", "parameters": [{"type": "payload", "payload": "stop"}]},
            {"type": "button", "sub_type": "url", "index": "1", "parameters": [{"type": "text", "text": "A-1"}]},
        ]

    def test_mapping_names_and_components_win(self, server, adapter):
        components = ({"type": "body", "parameters": [{"type": "text", "text": "fixed"}]},)
        server.queue(Reply(json=load("meta", "send_template_answer.json")))
        result = adapter.send_message(OutboundMessage(to=RECIPIENT, template=TemplateMessage(
            name="order_update", language="pt_BR", variables={"1": "ignored"},
            mapping=TemplateMapping(name="order_update_v2", language="pt_PT", components=components))))
        assert self.sent(adapter)["template"] == {"name": "order_update_v2", "language": {"code": "pt_PT"}, "components": list(components)}
        assert result.provider_message_id == "wamid.HBgLMTQxNTU1NTAxMjMVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"

    @pytest.mark.parametrize("code,normalized", [
        (131047, events.ERROR_OUTSIDE_WINDOW), (132001, events.ERROR_TEMPLATE_UNAVAILABLE),
        (132015, events.ERROR_TEMPLATE_UNAVAILABLE), (132000, events.ERROR_TEMPLATE_PARAMETERS),
    ])
    def test_window_and_template_refusals_get_our_codes(self, server, adapter, code, normalized):
        body = load("meta", "error_re_engagement.json")
        body["error"]["code"] = code
        server.queue(Reply(status=400, json=body))
        with pytest.raises(ProviderRejected) as caught:
            adapter.send_message(OutboundMessage(to=RECIPIENT, body="hello again"))
        assert (caught.value.code, caught.value.fail_over) == (normalized, True)
        assert f"[{code}]" in caught.value.message

    def test_expired_token_fixture_fails_over(self, server, adapter):
        server.queue(Reply(status=401, json=load("meta", "error_expired_token.json")))
        with pytest.raises(ProviderRejected) as caught:
            adapter.send_message(OutboundMessage(to=RECIPIENT, body="x"))
        assert (caught.value.code, caught.value.fail_over) == ("190", True)

    def test_media_size_is_checked_before_downloading(self, server, adapter):
        reference = self.serve_media(adapter, b"x" * 100, "image/jpeg")
        with pytest.raises(ProviderRejected) as caught:
            adapter.download_media(reference, max_bytes=99)
        assert caught.value.code == events.ERROR_MEDIA_TOO_LARGE
        assert server.requests_to("GET", "/whatsapp_business/attachments/") == []

    def test_media_url_elsewhere_never_gets_the_token(self, server, adapter):
        server.route("GET", f"/v21.0/{MEDIA_ID}", Reply(json={**load("meta", "media_info.json"), "url": "https://attacker.example.net/x"}))
        with pytest.raises(ProviderRejected) as caught:
            adapter.download_media(f"meta-media:{MEDIA_ID}", max_bytes=100_000)
        assert caught.value.code == "media_host_refused"

    def test_media_redirect_is_followed_without_the_token(self, server, adapter):
        self.serve_media(adapter, b"abc", "image/png")
        with LoopbackServer() as cdn:
            cdn.route("GET", "/abc.png", Reply(body=b"abc", headers={"Content-Type": "image/png"}))
            server.route("GET", "/whatsapp_business/attachments/", Reply(status=302, headers={"Location": f"{cdn.url}/abc.png"}))
            media = adapter.download_media(f"meta-media:{MEDIA_ID}", max_bytes=3)
            [fetched] = cdn.requests_to("GET", "/abc.png")
        assert media.content == b"abc" and fetched.header("Authorization") == ""
        [first] = server.requests_to("GET", "/whatsapp_business/attachments/")
        assert first.header("Authorization") == f"Bearer {TOKEN}"

    def test_media_reference_must_be_a_meta_id(self, server, adapter):
        with pytest.raises(ProviderRejected) as caught:
            adapter.download_media("https://example.com/a.jpg", max_bytes=10)
        assert caught.value.code == "invalid_media_reference" and server.requests == []

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


# ----- pywa's webhook fixtures, signed with our test app secret


def parsed(name):
    body = raw("meta", name)
    request = WebhookRequest(method="POST", url="https://x/", body=body, headers={"X-Hub-Signature-256": signed(body)})
    adapter = adapter_for_webhooks()
    adapter.verify_webhook(request)
    return adapter.parse_webhook(request)


def test_button_and_list_replies_keep_id_and_title():
    [button] = parsed("webhook_callback_button_button.json")
    assert (button.kind, button.reply.kind, button.reply.id, button.reply.title) == (
        events.INTERACTIVE_REPLY, events.REPLY_BUTTON, "callback_data", "title")
    assert (button.related_message_id, button.from_number, button.body) == ("wamid.xyzxyz", "+972987654321", "title")
    [row] = parsed("webhook_callback_selection_description.json")
    assert (row.reply.kind, row.reply.id, row.reply.title, row.reply.description) == (events.REPLY_LIST, "callback_data", "title", "description")
    [quick] = parsed("webhook_callback_button_quick_reply.json")
    assert (quick.reply.kind, quick.reply.id, quick.reply.title) == (events.REPLY_TEMPLATE_BUTTON, "callback_data", "title")
    assert quick.related_message_id == "wamid.xyzxyz=="


def test_reactions_and_removed_reactions():
    [reaction] = parsed("webhook_message_reaction.json")
    assert (reaction.kind, reaction.reaction.emoji, reaction.related_message_id) == (events.REACTION, "\U0001f62e", "wamid.yzxyzx=")
    for name in ("webhook_message_unreaction_empty.json", "webhook_message_unreaction_no_emoji.json"):
        [removed] = parsed(name)
        assert (removed.kind, removed.reaction.emoji) == (events.REACTION, "")


def test_system_messages_are_notices_not_messages():
    [changed] = parsed("webhook_system_phone_number_change.json")
    assert (changed.kind, changed.system.type, changed.system.new_id) == (events.SYSTEM_NOTICE, "user_changed_number", "972912345678")
    [identity] = parsed("webhook_system_identity_change.json")
    assert (identity.kind, identity.system.type) == (events.SYSTEM_NOTICE, "customer_identity_changed")


def test_played_status_is_kept():
    [played] = parsed("webhook_message_status_played.json")
    assert (played.status, played.provider_status, played.provider_message_id) == (events.STATUS_READ, "played", "wamid.xyzxyz")
    [failed] = parsed("webhook_message_status_failed.json")
    assert (failed.status, failed.error_code) == (events.STATUS_FAILED, "130472")
    [sent] = parsed("webhook_message_status_sent.json")
    assert (sent.status, sent.to_number) == (events.STATUS_SENT, "+972987654321")


def test_media_messages_keep_id_mime_caption_and_filename():
    [document] = parsed("webhook_message_document.json")
    [attachment] = document.attachments
    assert (attachment.url, attachment.mime_type, attachment.caption, attachment.filename) == (
        "meta-media:1234567890987654321", "application/pdf", "caption", "filename.pdf")
    assert document.body == "caption"
    [voice] = parsed("webhook_message_voice.json")
    assert voice.attachments[0].kind == "audio" and voice.attachments[0].url == "meta-media:1234567890987654321"
    [image] = parsed("webhook_message_media_with_url.json")
    assert image.attachments[0].url == "meta-media:65463453"
    [text] = parsed("webhook_message_text.json")
    assert text.kind == events.INBOUND_MESSAGE and text.body and not text.attachments
    [unsupported] = parsed("webhook_message_unsupported.json")
    assert unsupported.kind == events.INBOUND_MESSAGE and unsupported.body.startswith("[")


def test_a_window_failure_reported_by_webhook_gets_our_code():
    body = json.loads(raw("meta", "webhook_message_status_failed.json"))
    body["entry"][0]["changes"][0]["value"]["statuses"][0]["errors"] = [load("meta", "error_re_engagement.json")["error"]]
    payload = json.dumps(body).encode()
    [failed] = adapter_for_webhooks().parse_webhook(WebhookRequest(method="POST", url="https://x/", body=payload, headers={}))
    assert (failed.error_code, failed.error_message) == (events.ERROR_OUTSIDE_WINDOW, "[131047] Re-engagement message")
