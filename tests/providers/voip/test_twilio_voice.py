from decimal import Decimal

import pytest

from providers import events
from providers.errors import ProviderRejected
from providers.values import OutboundCall, WebhookRequest
from providers.voip.twilio_voice import TwilioVoice
from tests.providers.contract import RECIPIENT
from tests.providers.fixture_files import load
from tests.providers.loopback import Reply
from tests.providers.operations_contract import VoipOperationsContract
from tests.providers.whatsapp.test_twilio import SENDER, SID, TwilioAccountContract

CALL_SID = "CA" + "d" * 32
CALL_PATH = f"/2010-04-01/Accounts/{SID}/Calls/{CALL_SID}.json"


def call_fixture(name, **changes):
    return {**load("twilio", name), "account_sid": SID, **changes}


class TestTwilioVoiceContract(VoipOperationsContract, TwilioAccountContract):
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

    # ----- hang-up and lookup

    def prepare_hangup(self, adapter, provider_call_id):
        adapter.loopback.route("GET", CALL_PATH, Reply(json=call_fixture("call_in_progress.json")))
        adapter.loopback.route("POST", CALL_PATH, Reply(json=call_fixture("call_completed_priced.json")))

    def check_hangup(self, adapter, provider_call_id, result):
        [update] = adapter.loopback.requests_to("POST", CALL_PATH)
        assert update.form() == {"Status": ["completed"]} and self.authorized(update)
        assert (result.status, result.cost, result.currency, result.already_ended) == (
            events.CALL_COMPLETED, Decimal("0.02600"), "USD", False)

    def test_a_ringing_call_is_cancelled(self, server, adapter):
        server.route("GET", CALL_PATH, Reply(json=call_fixture("call_in_progress.json", status="ringing")))
        server.route("POST", CALL_PATH, Reply(json=call_fixture("call_in_progress.json", status="canceled")))
        result = adapter.hangup(CALL_SID)
        assert server.requests_to("POST", CALL_PATH)[0].form() == {"Status": ["canceled"]}
        assert result.status == events.CALL_NO_ANSWER

    def test_a_call_already_over_is_not_touched(self, server, adapter):
        server.route("GET", CALL_PATH, Reply(json=call_fixture("call_completed_priced.json")))
        result = adapter.hangup(CALL_SID)
        assert (result.already_ended, result.status, result.cost) == (True, events.CALL_COMPLETED, Decimal("0.02600"))
        assert server.requests_to("POST", CALL_PATH) == []

    def test_fetch_call_reads_price_and_duration(self, server, adapter):
        server.route("GET", CALL_PATH, Reply(json=call_fixture("call_completed_priced.json")))
        call = adapter.fetch_call(CALL_SID)
        assert (call.status, call.duration_seconds, call.cost, call.currency) == (events.CALL_COMPLETED, 62, Decimal("0.02600"), "USD")
        server.route("GET", CALL_PATH, Reply(json=call_fixture("call_in_progress.json")))
        assert (adapter.fetch_call(CALL_SID).cost, adapter.fetch_call(CALL_SID).status) == (None, events.CALL_ANSWERED)

    def test_hangup_of_an_unknown_call_is_refused(self, server, adapter):
        with pytest.raises(ProviderRejected) as caught:
            adapter.hangup("CA" + "0" * 32)
        assert caught.value.status == 404

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


def test_a_cancelled_call_was_never_answered():
    adapter = TwilioVoice(config={"account_sid": SID, "from_number": SENDER}, credentials={"auth_token": "x"})
    [event] = adapter.parse_webhook(WebhookRequest(
        method="POST", url="https://x/", body=f"CallSid=CA1&CallStatus=canceled&AccountSid={SID}".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"}))
    assert (event.status, event.provider_status) == (events.CALL_NO_ANSWER, "canceled")
