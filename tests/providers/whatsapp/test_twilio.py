import base64
import json
from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator

from providers import events
from providers.errors import ProviderRejected, WebhookSignatureError
from providers.twilio_api import validate_signature
from providers.values import (
    Attachment,
    InteractiveMessage,
    OutboundMessage,
    ReplyButton,
    TemplateMapping,
    TemplateMessage,
    TemplateStatus,
    WebhookRequest,
)
from providers.whatsapp.twilio import TwilioWhatsApp
from tests.providers.contract import RECIPIENT, HttpProviderContract
from tests.providers.fixture_files import load
from tests.providers.loopback import LoopbackServer, Reply
from tests.providers.operations_contract import WhatsAppOperationsContract

SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "twilio-AUTH-token-5f3e2d1c"
SENDER = "+14155238886"


def twilio_error(code, message, status):
    return Reply(status=status, json={"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status})


class TwilioAccountContract(HttpProviderContract):
    """What Twilio WhatsApp and Twilio Voice tests share."""

    secrets = {"auth_token": AUTH_TOKEN}
    health = ("GET", f"/2010-04-01/Accounts/{SID}.json")
    auth_error_code = "20003"
    recipient_error_code = "21211"

    def config(self, base_url):
        return {"account_sid": SID, "from_number": SENDER, "base_url": base_url}

    def authorized(self, request):
        expected = "Basic " + base64.b64encode(f"{SID}:{AUTH_TOKEN}".encode()).decode()
        return request.header("Authorization") == expected

    def unauthorized_reply(self):
        return twilio_error(20003, "Authenticate", 401)

    def healthy_reply(self):
        return Reply(json={"sid": SID, "status": "active"})

    def unhealthy_reply(self):
        return Reply(json={"sid": SID, "status": "suspended"})

    def rate_limit_reply(self):
        return twilio_error(20429, "Too Many Requests", 429)

    def recipient_error_reply(self):
        return twilio_error(21211, "The 'To' number is not a valid phone number.", 400)

    def echo_error_body(self, text):
        return {"code": 21604, "message": f"Invalid parameter {text}", "status": 400}


CONTENT_SID = "HX" + "a" * 32
MEDIA_PATH = f"/2010-04-01/Accounts/{SID}/Messages/MM{'1' * 32}/Media/ME{'2' * 32}"


class TestTwilioWhatsAppContract(WhatsAppOperationsContract, TwilioAccountContract):
    provider_class = TwilioWhatsApp
    required_fields = {"account_sid", "auth_token", "from_number"}
    operation = ("POST", f"/2010-04-01/Accounts/{SID}/Messages.json")
    expected_provider_id = "SM" + "a" * 32

    def config(self, base_url):
        # One loopback server plays both the REST API and the Content API.
        return {**super().config(base_url), "content_base_url": base_url}

    # ----- optional operations

    def template_mapping(self):
        return TemplateMapping(content_sid=CONTENT_SID)

    def sent_form(self, adapter):
        [request] = adapter.loopback.requests_to(*self.operation)
        return request.form()

    def check_template_sent(self, adapter, result, message):
        form = self.sent_form(adapter)
        assert form["ContentSid"] == [CONTENT_SID] and "Body" not in form
        assert json.loads(form["ContentVariables"][0]) == {"1": "Ana", "2": "A-1042"}
        assert form["To"] == [f"whatsapp:{RECIPIENT}"]

    def check_interactive_sent(self, adapter, result, message):
        [created] = adapter.loopback.requests_to("POST", "/v1/Content")
        request = created.json()
        assert self.authorized(created) and request["language"] == "en"
        if message.kind == "buttons":
            assert request["types"] == {"twilio/quick-reply": {"body": "Confirm the delivery on Friday?", "actions": [
                {"title": "Yes", "id": "yes"}, {"title": "No", "id": "no"}]}}
        else:
            assert request["types"] == {"twilio/list-picker": {"body": "Pick a slot", "button": "Slots", "items": [
                {"item": "Morning", "id": "fri-am", "description": "8-12"}, {"item": "Afternoon", "id": "fri-pm"}]}}
        sid = load("twilio", "content_create_answer.json")["sid"]
        assert self.sent_form(adapter)["ContentSid"] == [sid] and result.raw["content_sid"] == sid

    def assert_nothing_sent(self, adapter):
        assert adapter.loopback.requests == []

    def install_routes(self, server):
        server.route("POST", "/v1/Content", Reply(status=201, json=load("twilio", "content_create_answer.json")))

    def prepare_templates(self, adapter):
        first, second = load("twilio", "content_and_approvals_page_1.json"), load("twilio", "content_and_approvals_page_2.json")
        first["meta"]["next_page_url"] = first["meta"]["next_page_url"].replace("https://content.twilio.com", adapter.loopback.url)
        pages = {None: first, "PAHXaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa": second}
        adapter.loopback.route("GET", "/v1/ContentAndApprovals",
                               lambda request: Reply(json=pages[(request.query.get("PageToken") or [None])[0]]))
        return {("order_update", "pt", TemplateStatus.APPROVED), ("delivery_slot", "en", TemplateStatus.PENDING),
                ("summer_sale", "en", TemplateStatus.REJECTED), ("draft_never_submitted", "en", TemplateStatus.UNSUBMITTED)}

    def serve_media(self, adapter, content, mime_type):
        adapter.loopback.route("GET", MEDIA_PATH, Reply(body=content, headers={"Content-Type": mime_type}))
        return adapter.loopback.url + MEDIA_PATH

    def test_imported_contents_are_described_provider_neutrally(self, server, adapter):
        self.prepare_templates(adapter)
        order, slot, sale, draft = adapter.list_templates()
        assert (order.provider_template_id, order.category, order.variables) == ("HX" + "a" * 32, "utility", ("1", "2"))
        assert slot.body == "Can we deliver on {{1}}?" and [b.text for b in slot.buttons] == ["Yes", "No"]
        assert (sale.category, sale.rejection_reason) == ("marketing", "The template contains promotional content in a utility category.")
        assert draft.status == TemplateStatus.UNSUBMITTED
        assert all(self.authorized(r) for r in server.requests_to("GET", "/v1/ContentAndApprovals"))

    def test_next_page_elsewhere_is_not_followed_with_our_credentials(self, server, adapter):
        page = load("twilio", "content_and_approvals_page_1.json")  # next_page_url on content.twilio.com, not our test host
        server.route("GET", "/v1/ContentAndApprovals", Reply(json=page))
        assert len(adapter.list_templates(max_pages=5)) == 2
        assert len(server.requests_to("GET", "/v1/ContentAndApprovals")) == 1

    def test_a_template_without_a_content_sid_fails_over(self, server, adapter):
        with pytest.raises(ProviderRejected) as caught:
            adapter.send_message(OutboundMessage(to=RECIPIENT, template=TemplateMessage(name="x", language="en")))
        assert (caught.value.code, caught.value.fail_over) == (events.ERROR_TEMPLATE_UNAVAILABLE, True)
        assert server.requests == []

    def test_mapped_variable_names(self, server, adapter):
        adapter.send_message(OutboundMessage(to=RECIPIENT, template=TemplateMessage(
            name="order_update", language="pt_BR", variables={"customer": "Ana"},
            mapping=TemplateMapping(content_sid=CONTENT_SID, variable_names={"customer": "1"}))))
        assert json.loads(self.sent_form(adapter)["ContentVariables"][0]) == {"1": "Ana"}

    def test_a_known_content_sid_is_reused_for_interactive_messages(self, server, adapter):
        message = InteractiveMessage(body="Ok?", buttons=(ReplyButton("y", "Yes"),), provider_content_id=CONTENT_SID)
        adapter.send_message(OutboundMessage(to=RECIPIENT, interactive=message))
        assert self.sent_form(adapter)["ContentSid"] == [CONTENT_SID]
        assert server.requests_to("POST", "/v1/Content") == []

    def test_media_of_another_account_or_host_is_refused_before_any_request(self, server, adapter):
        for reference in (server.url + MEDIA_PATH.replace(SID, "AC" + "f" * 32), "https://evil.example.com" + MEDIA_PATH, "ME123"):
            with pytest.raises(ProviderRejected) as caught:
                adapter.download_media(reference, max_bytes=100)
            assert caught.value.code == "invalid_media_reference"
        assert server.requests == []

    def test_media_redirect_to_storage_is_followed_without_credentials(self, server, adapter):
        with LoopbackServer() as storage:
            storage.route("GET", "/media/x", Reply(body=b"%PDF-1.7", headers={"Content-Type": "application/pdf"}))
            server.route("GET", MEDIA_PATH, Reply(status=307, headers={"Location": f"{storage.url}/media/x"}))
            media = adapter.download_media(server.url + MEDIA_PATH, max_bytes=1024)
            [fetched] = storage.requests_to("GET", "/media/x")
        assert (media.content, media.mime_type) == (b"%PDF-1.7", "application/pdf")
        assert fetched.header("Authorization") == ""
        assert self.authorized(server.requests_to("GET", MEDIA_PATH)[0])

    def test_outside_window_refusal_gets_our_code(self, server, adapter):
        server.queue(twilio_error(63016, "Failed to send freeform message because you are outside the allowed window.", 400))
        with pytest.raises(ProviderRejected) as caught:
            adapter.send_message(OutboundMessage(to=RECIPIENT, body="x"))
        assert (caught.value.code, caught.value.fail_over) == (events.ERROR_OUTSIDE_WINDOW, True)
        assert "[63016]" in caught.value.message

    def success_reply(self):
        return Reply(status=201, json={
            "sid": self.expected_provider_id, "status": "queued", "price": None, "price_unit": "USD",
            "error_code": None, "error_message": None,
        })

    def assert_operation_request(self, request):
        assert request.form() == {
            "To": [f"whatsapp:{RECIPIENT}"],
            "From": [f"whatsapp:{SENDER}"],
            "Body": ["Hello from the contract"],
            "StatusCallback": ["https://switchboard.example.com/webhooks/00000000-0000-0000-0000-000000000000/"],
        }

    def test_media_goes_as_media_url_and_a_stated_price_becomes_the_cost(self, server, adapter):
        server.queue(Reply(status=201, json={"sid": "SM1", "status": "sent", "price": "-0.00500", "price_unit": "USD"}))
        result = adapter.send_message(OutboundMessage(
            to=RECIPIENT, body="see", attachments=(Attachment(url="https://cdn.example.com/a.pdf", mime_type="application/pdf"),)
        ))
        assert str(result.cost) == "0.00500" and result.currency == "USD"
        assert server.requests_to(*self.operation)[0].form()["MediaUrl"] == ["https://cdn.example.com/a.pdf"]

    def test_sender_not_set_up_fails_over(self, server, adapter):
        server.queue(twilio_error(63007, "Twilio could not find a Channel with the specified From address", 400))
        with pytest.raises(ProviderRejected) as caught:
            adapter.send_message(OutboundMessage(to=RECIPIENT, body="x"))
        assert (caught.value.code, caught.value.fail_over) == ("63007", True)

    def test_account_sid_format(self):
        with pytest.raises(Exception) as caught:
            TwilioWhatsApp.validate_config({"account_sid": "AC123", "from_number": "+1"}, {"auth_token": "x"})
        assert set(caught.value.message_dict) == {"account_sid", "from_number"}


# ----- signatures, cross-checked with the official twilio package

URL = "https://switchboard.example.com/webhooks/3f1e/"
PARAMS = {
    "MessageSid": "SM" + "b" * 32, "MessageStatus": "delivered", "AccountSid": SID,
    "From": f"whatsapp:{SENDER}", "To": f"whatsapp:{RECIPIENT}", "ErrorCode": "",
}


def form_request(url, params, signature):
    body = urlencode(params).encode()
    return WebhookRequest(
        method="POST", url=url, body=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
        form={k: [v] for k, v in params.items()},
    )


def adapter():
    return TwilioWhatsApp(config={"account_sid": SID, "from_number": SENDER}, credentials={"auth_token": AUTH_TOKEN})


def test_accepts_signatures_made_by_the_official_validator():
    signature = RequestValidator(AUTH_TOKEN).compute_signature(URL, PARAMS)
    adapter().verify_webhook(form_request(URL, PARAMS, signature))


@pytest.mark.parametrize("signed_url,called_url", [
    ("https://switchboard.example.com:443/webhooks/3f1e/", "https://switchboard.example.com/webhooks/3f1e/"),
    ("https://switchboard.example.com/webhooks/3f1e/", "https://switchboard.example.com:443/webhooks/3f1e/"),
    ("http://switchboard.example.com:80/webhooks/3f1e/?x=1", "http://switchboard.example.com/webhooks/3f1e/?x=1"),
])
def test_accepts_the_url_with_and_without_the_default_port(signed_url, called_url):
    signature = RequestValidator(AUTH_TOKEN).compute_signature(signed_url, PARAMS)
    adapter().verify_webhook(form_request(called_url, PARAMS, signature))


def test_repeated_parameters_are_signed_value_by_value_in_sorted_order():
    from django.http import QueryDict

    params = QueryDict("To=b&To=a&To=a&Body=x")
    signature = RequestValidator(AUTH_TOKEN).compute_signature(URL, params)
    assert validate_signature(url=URL, params=dict(params.lists()), auth_token=AUTH_TOKEN, signature=signature)
    reordered = {"Body": ["x"], "To": ["a", "b"]}
    assert validate_signature(url=URL, params=reordered, auth_token=AUTH_TOKEN, signature=signature)
    assert not validate_signature(url=URL, params={"Body": ["x"], "To": ["a"]}, auth_token=AUTH_TOKEN, signature=signature)


def test_json_bodies_are_checked_with_body_sha256():
    body = b'{"MessageSid":"SM1"}'
    validator = RequestValidator(AUTH_TOKEN)
    url = f"{URL}?bodySHA256={validator.compute_hash(body.decode())}"
    signature = validator.compute_signature(url, {})
    request = WebhookRequest(method="POST", url=url, body=body, headers={"Content-Type": "application/json", "X-Twilio-Signature": signature})
    adapter().verify_webhook(request)
    tampered = WebhookRequest(method="POST", url=url, body=b'{"MessageSid":"SM2"}', headers=request.headers)
    with pytest.raises(WebhookSignatureError):
        adapter().verify_webhook(tampered)


@pytest.mark.parametrize("tamper", ["url", "param_value", "extra_param", "signature", "token", "missing"])
def test_rejects_tampering(tamper):
    url, params = URL, dict(PARAMS)
    signature = RequestValidator(AUTH_TOKEN).compute_signature(URL, PARAMS)
    if tamper == "url":
        url = URL.replace("3f1e", "3f1f")
    elif tamper == "param_value":
        params["MessageStatus"] = "read"
    elif tamper == "extra_param":
        params["Injected"] = "1"
    elif tamper == "signature":
        signature = base64.b64encode(b"\0" * 20).decode()
    elif tamper == "token":
        signature = RequestValidator("another-token").compute_signature(URL, PARAMS)
    elif tamper == "missing":
        signature = ""
    with pytest.raises(WebhookSignatureError):
        adapter().verify_webhook(form_request(url, params, signature))


def test_parses_status_callbacks_and_inbound_messages():
    [status] = adapter().parse_webhook(form_request(URL, {**PARAMS, "MessageStatus": "undelivered", "ErrorCode": "63016"}, ""))
    assert (status.kind, status.status, status.to_number) == (events.MESSAGE_STATUS, "failed", RECIPIENT)
    assert (status.error_code, status.error_message, status.provider_status) == (events.ERROR_OUTSIDE_WINDOW, "[63016]", "undelivered")
    inbound_params = {
        "MessageSid": "SM" + "c" * 32, "SmsStatus": "received", "Body": "hola", "NumMedia": "1",
        "MediaUrl0": "https://api.twilio.com/media/ME1", "MediaContentType0": "image/jpeg",
        "From": f"whatsapp:{RECIPIENT}", "To": f"whatsapp:{SENDER}",
    }
    [inbound] = adapter().parse_webhook(form_request(URL, inbound_params, ""))
    assert (inbound.kind, inbound.from_number, inbound.body) == (events.INBOUND_MESSAGE, RECIPIENT, "hola")
    assert inbound.attachments[0].mime_type == "image/jpeg"


def test_a_tapped_quick_reply_is_a_reply_with_id_and_title():
    params = {
        "MessageSid": "SM" + "e" * 32, "SmsStatus": "received", "Body": "Yes", "ButtonText": "Yes", "ButtonPayload": "yes",
        "OriginalRepliedMessageSid": "SM" + "a" * 32, "From": f"whatsapp:{RECIPIENT}", "To": f"whatsapp:{SENDER}", "NumMedia": "0",
    }
    [reply] = adapter().parse_webhook(form_request(URL, params, ""))
    assert (reply.kind, reply.reply.id, reply.reply.title, reply.related_message_id) == (
        events.INTERACTIVE_REPLY, "yes", "Yes", "SM" + "a" * 32)
    assert (reply.from_number, reply.chat_kind, reply.sender_kind) == (RECIPIENT, events.CHAT_DIRECT, events.SENDER_PHONE)
