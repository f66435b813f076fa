import base64
from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator

from providers import events
from providers.errors import ProviderRejected, WebhookSignatureError
from providers.twilio_api import validate_signature
from providers.values import Attachment, OutboundMessage, WebhookRequest
from providers.whatsapp.twilio import TwilioWhatsApp
from tests.providers.contract import RECIPIENT, HttpProviderContract
from tests.providers.loopback import Reply

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


class TestTwilioWhatsAppContract(TwilioAccountContract):
    provider_class = TwilioWhatsApp
    required_fields = {"account_sid", "auth_token", "from_number"}
    operation = ("POST", f"/2010-04-01/Accounts/{SID}/Messages.json")
    expected_provider_id = "SM" + "a" * 32

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
    assert (status.kind, status.status, status.error_code, status.to_number) == (events.MESSAGE_STATUS, "failed", "63016", RECIPIENT)
    inbound_params = {
        "MessageSid": "SM" + "c" * 32, "SmsStatus": "received", "Body": "hola", "NumMedia": "1",
        "MediaUrl0": "https://api.twilio.com/media/ME1", "MediaContentType0": "image/jpeg",
        "From": f"whatsapp:{RECIPIENT}", "To": f"whatsapp:{SENDER}",
    }
    [inbound] = adapter().parse_webhook(form_request(URL, inbound_params, ""))
    assert (inbound.kind, inbound.from_number, inbound.body) == (events.INBOUND_MESSAGE, RECIPIENT, "hola")
    assert inbound.attachments[0].mime_type == "image/jpeg"
