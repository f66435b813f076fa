import pytest

from providers import events
from providers.errors import ProviderRejected
from providers.values import OutboundCall, WebhookRequest
from providers.voip.twilio_voice import TwilioVoice
from tests.providers.contract import RECIPIENT
from tests.providers.loopback import Reply
from tests.providers.whatsapp.test_twilio import SENDER, SID, TwilioAccountContract


class TestTwilioVoiceContract(TwilioAccountContract):
    provider_class = TwilioVoice
    required_fields = {"account_sid", "auth_token", "from_number"}
    operation = ("POST", f"/2010-04-01/Accounts/{SID}/Calls.json")
    expected_provider_id = "CA" + "d" * 32

    def success_reply(self):
        return Reply(status=201, json={"sid": self.expected_provider_id, "status": "queued", "price": None, "price_unit": "USD"})

    def assert_operation_request(self, request):
        form = request.form()
        assert form["To"] == [RECIPIENT] and form["From"] == [SENDER]
        assert form["Twiml"] == ["<Response><Say>Hi</Say></Response>"] and "Url" not in form
        assert form["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]

    def test_uses_the_default_twiml_url_when_the_call_has_no_instructions(self, server):
        adapter = self.make_adapter(server.url, default_twiml_url="https://example.com/twiml.xml")
        adapter.place_call(OutboundCall(to=RECIPIENT))
        form = server.requests_to(*self.operation)[0].form()
        assert form["Url"] == ["https://example.com/twiml.xml"] and "Twiml" not in form

    def test_a_call_without_instructions_is_refused_before_calling(self, server, adapter):
        with pytest.raises(ProviderRejected) as caught:
            adapter.place_call(OutboundCall(to=RECIPIENT))
        assert caught.value.code == "no_call_instructions"
        assert server.requests == []

    def test_parses_call_status_callbacks(self):
        adapter = TwilioVoice(config={"account_sid": SID, "from_number": SENDER}, credentials={"auth_token": "x"})
        body = f"CallSid=CA1&CallStatus=completed&CallDuration=42&AccountSid={SID}".encode()
        [event] = adapter.parse_webhook(WebhookRequest(
            method="POST", url="https://x/", body=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
        ))
        assert (event.kind, event.provider_message_id, event.status, event.duration_seconds) == (
            events.CALL_STATUS, "CA1", events.CALL_COMPLETED, 42)
