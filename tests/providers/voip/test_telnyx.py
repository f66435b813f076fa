import base64
import json
import time
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from providers import events
from providers.errors import ProviderRejected, WebhookSignatureError
from providers.values import OutboundCall, WebhookRequest
from providers.voip import telnyx_events
from providers.voip.telnyx import Telnyx
from tests.providers.contract import RECIPIENT, HttpProviderContract
from tests.providers.fixture_files import load
from tests.providers.loopback import Reply
from tests.providers.operations_contract import VoipOperationsContract

API_KEY = "KEY0190-telnyx-SECRET-abcdef"
CONNECTION = "1494404757140276705"
CALLER = "+18005550101"
PRIVATE_KEY = Ed25519PrivateKey.generate()
PUBLIC_KEY = base64.b64encode(PRIVATE_KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def telnyx_error(code, detail, status):
    return Reply(status=status, json={"errors": [{"code": str(code), "title": "Error", "detail": detail, "source": {"pointer": "/to"}}]})


CALL_ID = "v3:MdI91X4lWFEs7IgbBEOT9M4AigoY08M0WWZFISt1Yw2axZ_IiE4pqg"
ACTIONS = f"/v2/calls/{CALL_ID}/actions"
TWIML = ('<Response><Say voice="Polly.Joanna">Your order has shipped.</Say><Pause length="2"/>'
         "<Play>https://cdn.example.com/greeting.mp3</Play></Response>")


def webhook(name, *, client_state=None, **payload):
    data = load("telnyx", name)
    if client_state is not None:
        data["data"]["payload"]["client_state"] = client_state
    data["data"]["payload"].update(payload)
    return data


class TestTelnyxContract(VoipOperationsContract, HttpProviderContract):
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
        return Reply(json=load("telnyx", "dial_answer.json"))

    def install_routes(self, server):
        for action in ("speak", "playback_start", "hangup"):
            server.route("POST", f"{ACTIONS}/{action}", Reply(json=load("telnyx", "command_answer.json")))

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
        state = telnyx_events.decode_state(sent["client_state"])
        assert state["i"] == 0 and [step[0] for step in state["s"]] == ["speak", "hangup"]

    # ----- hang-up

    def prepare_hangup(self, adapter, provider_call_id):
        pass

    def check_hangup(self, adapter, provider_call_id, result):
        [request] = adapter.loopback.requests_to("POST", f"{ACTIONS}/hangup")
        assert self.authorized(request) and request.json() == {"command_id": "switchboard-hangup"}
        assert (result.status, result.already_ended) == ("", False)  # the final status arrives by webhook

    def test_hangup_of_a_call_that_already_ended(self, server, adapter):
        server.queue(telnyx_error(90018, "Call has already ended", 422))
        assert adapter.hangup(CALL_ID).already_ended is True

    # ----- call instructions carried as Call Control commands

    def test_twiml_runs_as_speak_playback_and_hangup_after_the_answer(self, server, adapter):
        call = adapter.place_call(OutboundCall(to=RECIPIENT, twiml=TWIML, client_reference="call-42"))
        state = server.requests_to(*self.operation)[0].json()["client_state"]
        assert telnyx_events.decode_state(state)["r"] == "call-42"
        answered = adapter.parse_webhook(signed_request(json.dumps(webhook("answered.json", client_state=state)).encode()))
        adapter.continue_call(answered[0])
        [speak] = server.requests_to("POST", f"{ACTIONS}/speak")
        sent = speak.json()
        assert (sent["payload"], sent["voice"], sent["language"], sent["command_id"]) == (
            "Your order has shipped.", "AWS.Polly.Joanna", "en-US", "switchboard-0")
        expected = [("speak", f"{ACTIONS}/speak", 2), ("play", f"{ACTIONS}/playback_start", 1), ("hangup", f"{ACTIONS}/hangup", 1)]
        state = sent["client_state"]
        for name, path, count in expected:
            ended = "playback_ended.json" if name == "hangup" else "speak_ended.json"
            [progress] = adapter.parse_webhook(signed_request(json.dumps(webhook(ended, client_state=state)).encode()))
            assert progress.kind == events.CALL_PROGRESS
            adapter.continue_call(progress)
            requests = server.requests_to("POST", path)
            assert len(requests) == count
            state = requests[-1].json()["client_state"]
        pause, play = server.requests_to("POST", f"{ACTIONS}/speak")[1].json(), server.requests_to("POST", f"{ACTIONS}/playback_start")[0].json()
        assert (pause["payload_type"], pause["payload"]) == ("ssml", '<speak><break time="2s"/></speak>')
        assert play["audio_url"] == "https://cdn.example.com/greeting.mp3"
        assert call.provider_call_id == CALL_ID

    def test_a_redelivered_answer_sends_the_same_command_id(self, server, adapter):
        adapter.place_call(OutboundCall(to=RECIPIENT, twiml=TWIML))
        state = server.requests_to(*self.operation)[0].json()["client_state"]
        [answered] = adapter.parse_webhook(signed_request(json.dumps(webhook("answered.json", client_state=state)).encode()))
        adapter.continue_call(answered)
        adapter.continue_call(answered)
        first, second = server.requests_to("POST", f"{ACTIONS}/speak")
        assert first.json()["command_id"] == second.json()["command_id"] == "switchboard-0"

    def test_a_hung_up_call_runs_nothing_more(self, server, adapter):
        adapter.place_call(OutboundCall(to=RECIPIENT, twiml=TWIML))
        state = server.requests_to(*self.operation)[0].json()["client_state"]
        [ended] = adapter.parse_webhook(signed_request(json.dumps(webhook("speak_ended.json", client_state=state, status="call_hangup")).encode()))
        adapter.continue_call(ended)
        [hangup] = adapter.parse_webhook(signed_request(json.dumps(webhook("hangup_normal_clearing.json", client_state=state)).encode()))
        adapter.continue_call(hangup)
        assert [r.path for r in server.requests if "/actions/" in r.path] == []

    @pytest.mark.parametrize("call,reason", [
        (OutboundCall(to=RECIPIENT, url="https://example.com/twiml.xml"), "cannot fetch TwiML from a URL"),
        (OutboundCall(to=RECIPIENT, twiml="<Response><Gather/></Response>"), "<Gather> has no equivalent"),
        (OutboundCall(to=RECIPIENT, twiml="<Response><Dial>+15550001111</Dial></Response>"), "<Dial> has no equivalent"),
        (OutboundCall(to=RECIPIENT, twiml="<Response><Say loop=\"0\">hi</Say></Response>"), "cannot be carried"),
        (OutboundCall(to=RECIPIENT, twiml='<!DOCTYPE x [<!ENTITY a "b">]><Response/>'), "document type"),
    ])
    def test_instructions_that_cannot_be_carried_fail_over_without_dialing(self, server, adapter, call, reason):
        with pytest.raises(ProviderRejected) as caught:
            adapter.place_call(call)
        assert (caught.value.code, caught.value.fail_over) == (events.ERROR_INSTRUCTIONS_UNSUPPORTED, True)
        assert reason in caught.value.message
        assert server.requests == []

    def test_a_call_without_instructions_fails_over_unless_a_default_is_set(self, server):
        adapter = self.make_adapter(server.url)
        with pytest.raises(ProviderRejected) as caught:
            adapter.place_call(OutboundCall(to=RECIPIENT))
        assert (caught.value.code, caught.value.fail_over) == (events.ERROR_NO_INSTRUCTIONS, True)
        adapter = self.make_adapter(server.url, default_twiml="<Response><Play>https://cdn.example.com/a.wav</Play></Response>")
        adapter.place_call(OutboundCall(to=RECIPIENT))
        state = telnyx_events.decode_state(server.requests_to(*self.operation)[0].json()["client_state"])
        assert [step[0] for step in state["s"]] == ["play", "hangup"]

    def test_default_instructions_are_validated(self):
        with pytest.raises(Exception) as caught:
            Telnyx.validate_config({**self.config("https://api.telnyx.com"), "default_twiml": "<Response><Record/></Response>"}, self.secrets)
        assert set(caught.value.message_dict) == {"default_twiml"}

    def test_public_key_format(self):
        with pytest.raises(Exception) as caught:
            Telnyx.validate_config({**self.config("https://api.telnyx.com"), "public_key": "c2hvcnQ="}, self.secrets)
        assert set(caught.value.message_dict) == {"public_key"}


# ----- webhooks: Ed25519 with a key pair made here

# The SDK's CallHangup has no end_time: the event's occurred_at is the end.
BODY = json.dumps({"data": {
    "event_type": "call.hangup", "id": "0ccc7b54-4df3-4bca-a65a-3da1ecc777f0", "occurred_at": "2026-11-22T10:00:42.000000Z",
    "payload": {"call_control_id": "v3:abc", "from": CALLER, "to": RECIPIENT, "hangup_cause": "normal_clearing",
                "start_time": "2026-11-22T10:00:00Z"},
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


def parsed(data):
    request = signed_request(json.dumps(data).encode())
    adapter().verify_webhook(request)
    return adapter().parse_webhook(request)


def test_duration_is_occurred_at_minus_start_time_without_end_time():
    data = load("telnyx", "hangup_normal_clearing.json")
    assert "end_time" not in data["data"]["payload"]
    [event] = parsed(data)
    assert (event.status, event.duration_seconds, event.provider_status) == (events.CALL_COMPLETED, 47, "normal_clearing")


def test_duration_counts_from_the_answer_when_we_saw_it():
    answered_at = int(telnyx_events.parse_time("2026-11-22T10:00:05Z").timestamp())
    state = telnyx_events.encode_state({"r": "", "s": [], "i": 1, "a": answered_at})
    [event] = parsed(webhook("hangup_normal_clearing.json", client_state=state))
    assert event.duration_seconds == 42


@pytest.mark.parametrize("cause,status", [
    ("normal_clearing", events.CALL_COMPLETED), ("time_limit", events.CALL_COMPLETED),
    ("user_busy", events.CALL_BUSY), ("call_rejected", events.CALL_BUSY),
    ("timeout", events.CALL_NO_ANSWER), ("no_answer", events.CALL_NO_ANSWER), ("originator_cancel", events.CALL_NO_ANSWER),
    ("not_found", events.CALL_FAILED), ("unspecified", events.CALL_FAILED), ("something_new", events.CALL_FAILED),
])
def test_every_hangup_cause_of_the_sdk_enum(cause, status):
    [event] = parsed(webhook("hangup_docs_call_rejected.json", hangup_cause=cause))
    assert (event.status, event.provider_status) == (status, cause)
    if status != events.CALL_COMPLETED:
        # Never answered: no talk time, and never "completed".
        assert (event.duration_seconds, event.error_code) == (0, cause)


def test_docs_example_is_a_declined_call_with_its_sip_cause():
    [event] = parsed(load("telnyx", "hangup_docs_call_rejected.json"))
    assert (event.status, event.error_code, event.error_message) == (events.CALL_BUSY, "call_rejected", "603")
    assert event.provider_message_id == CALL_ID


def test_call_cost_is_reported():
    [event] = parsed(load("telnyx", "cost.json"))
    assert (event.kind, event.cost, event.currency, event.provider_message_id) == (events.CALL_COST, Decimal("0.0096"), "USD", CALL_ID)
    failed = webhook("cost.json", status="error")
    assert parsed(failed) == []


def test_answered_and_progress_events():
    [answered] = parsed(load("telnyx", "answered.json"))
    assert (answered.kind, answered.status) == (events.CALL_STATUS, events.CALL_ANSWERED)
    [progress] = parsed(load("telnyx", "playback_ended.json"))
    assert (progress.kind, progress.provider_status) == (events.CALL_PROGRESS, "call.playback.ended:completed")


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
