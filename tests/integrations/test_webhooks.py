"""The webhook endpoint end to end: real requests through Django, real signatures, PostgreSQL."""

import base64
import hashlib
import hmac
import json
import time
import uuid
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.urls import reverse
from twilio.request_validator import RequestValidator

from audit.models import AuditEvent
from config.celery import app as celery_app
from integrations.models import Call, Message, OrganizationIntegration
from tests.factories import make_integration

pytestmark = pytest.mark.django_db

APP_SECRET = "meta-APP-secret-webhooks-77"
VERIFY_TOKEN = "verify-TOKEN-webhooks-55"
TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "twilio-TOKEN-webhooks-99"
TELNYX_KEY = Ed25519PrivateKey.generate()
TELNYX_PUBLIC = base64.b64encode(TELNYX_KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def meta_integration(organization, **kwargs):
    return make_integration(
        organization=organization, provider_name="meta_cloud",
        config={"phone_number_id": "106540352242922"},
        credentials={"access_token": "EAAG-token-webhooks-123", "app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN},
        **kwargs,
    )


def outbound(integration, provider_id, status=Message.Status.SENT):
    return Message.objects.create(
        organization=integration.organization, integration=integration, provider_name=integration.provider_name,
        channel=integration.channel, to="+16505551234", body="hi", status=status, provider_message_id=provider_id,
    )


def meta_body(*, statuses=(), messages=()):
    return json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550001111", "phone_number_id": "106540352242922"},
        "statuses": [{"id": pid, "status": status, "timestamp": "1700000000", "recipient_id": "16505551234"} for pid, status in statuses],
        "messages": [{"from": "16505551234", "id": mid, "timestamp": "1700000000", "type": "text", "text": {"body": text}} for mid, text in messages],
    }}]}]}).encode()


def post_meta(client, integration, body, secret=APP_SECRET):
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return client.post(webhook_path(integration), data=body, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=signature)


def webhook_path(integration):
    return reverse("webhooks:receive", kwargs={"integration_id": integration.pk})


# ----- handshake

def test_meta_handshake_answers_the_challenge(client, organization):
    integration = meta_integration(organization)
    response = client.get(webhook_path(integration), {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "8412"})
    assert response.status_code == 200
    assert response.content == b"8412"


def test_meta_handshake_with_a_wrong_token_is_403_and_audited(client, organization):
    integration = meta_integration(organization)
    response = client.get(webhook_path(integration), {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"})
    assert response.status_code == 403
    event = AuditEvent.objects.get(action="webhook.rejected")
    assert event.organization == organization and event.target_id == str(integration.pk)


def test_get_on_a_provider_without_handshake_is_405(client, organization):
    integration = make_integration(organization=organization)
    assert client.get(webhook_path(integration)).status_code == 405


def test_unknown_integration_is_404(client, db):
    assert client.post(f"/webhooks/{uuid.uuid4()}/", data=b"{}", content_type="application/json").status_code == 404
    assert client.get("/webhooks/not-a-uuid/").status_code == 404


# ----- valid, forged, replayed

def test_valid_post_moves_status_and_stores_inbound(client, organization):
    integration = meta_integration(organization)
    message = outbound(integration, "wamid.OUT1")
    response = post_meta(client, integration, meta_body(statuses=[("wamid.OUT1", "delivered")], messages=[("wamid.IN1", "hello")]))
    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == "delivered" and message.delivered_at is not None
    inbound = Message.objects.for_org(organization).get(direction=Message.Direction.INBOUND)
    assert (inbound.integration, inbound.from_number, inbound.to, inbound.body, inbound.provider_message_id) == (
        integration, "+16505551234", "+15550001111", "hello", "wamid.IN1")
    assert inbound.channel == "whatsapp" and inbound.provider_name == "meta_cloud"


def test_forged_post_is_403_changes_nothing_and_audits_without_payload(client, organization):
    integration = meta_integration(organization)
    message = outbound(integration, "wamid.OUT1")
    body = meta_body(statuses=[("wamid.OUT1", "read")], messages=[("wamid.IN9", "secret payload text")])
    response = post_meta(client, integration, body, secret="not-the-app-secret")
    assert response.status_code == 403
    message.refresh_from_db()
    assert message.status == "sent"
    assert not Message.objects.filter(direction=Message.Direction.INBOUND).exists()
    event = AuditEvent.objects.get(action="webhook.rejected")
    assert event.outcome == AuditEvent.Outcome.REFUSED and event.actor == "system:webhook"
    stored = json.dumps([event.before, event.after, event.reason, event.target_repr])
    for forbidden in ("secret payload text", "wamid.IN9", APP_SECRET, VERIFY_TOKEN):
        assert forbidden not in stored


def test_unsigned_post_is_403(client, organization):
    integration = meta_integration(organization)
    response = client.post(webhook_path(integration), data=meta_body(), content_type="application/json")
    assert response.status_code == 403


def test_replay_changes_nothing_the_second_time(client, organization):
    integration = meta_integration(organization)
    message = outbound(integration, "wamid.OUT1")
    body = meta_body(statuses=[("wamid.OUT1", "delivered")], messages=[("wamid.IN1", "hello")])
    assert post_meta(client, integration, body).status_code == 200
    message.refresh_from_db()
    first_update = message.updated_at
    assert post_meta(client, integration, body).status_code == 200
    message.refresh_from_db()
    assert message.updated_at == first_update and message.status == "delivered"
    assert Message.objects.for_org(organization).filter(direction=Message.Direction.INBOUND).count() == 1


def test_malformed_body_with_a_valid_signature_is_400(client, organization):
    integration = meta_integration(organization)
    assert post_meta(client, integration, b"{not json").status_code == 400


# ----- monotonicity

@pytest.mark.parametrize("sequence,final", [
    (["delivered", "sent"], "delivered"),
    (["read", "delivered"], "read"),
    (["delivered", "failed"], "delivered"),
    (["sent", "failed"], "failed"),
    (["failed", "delivered", "read"], "read"),
])
def test_status_only_moves_forward(client, organization, sequence, final):
    integration = meta_integration(organization)
    message = outbound(integration, "wamid.OUT1")
    for status in sequence:
        assert post_meta(client, integration, meta_body(statuses=[("wamid.OUT1", status)])).status_code == 200
    message.refresh_from_db()
    assert message.status == final


# ----- organization isolation

def test_a_webhook_touches_only_its_own_integrations_messages(client, organization, other_organization):
    ours = meta_integration(organization)
    theirs = meta_integration(other_organization)
    sibling = meta_integration(organization, display_name="Second Meta number")
    their_message = outbound(theirs, "wamid.SHARED")
    sibling_message = outbound(sibling, "wamid.SHARED")
    assert post_meta(client, ours, meta_body(statuses=[("wamid.SHARED", "read")], messages=[("wamid.IN1", "x")])).status_code == 200
    their_message.refresh_from_db()
    sibling_message.refresh_from_db()
    assert their_message.status == "sent" and sibling_message.status == "sent"
    assert not Message.objects.for_org(other_organization).filter(direction=Message.Direction.INBOUND).exists()
    assert Message.objects.for_org(organization).filter(direction=Message.Direction.INBOUND, integration=ours).count() == 1


def test_another_organizations_secret_does_not_open_this_webhook(client, organization, other_organization):
    ours = meta_integration(organization)
    make_integration(organization=other_organization, provider_name="meta_cloud", config={"phone_number_id": "1"},
                     credentials={"access_token": "t" * 10, "app_secret": "their-app-secret"})
    assert post_meta(client, ours, meta_body(), secret="their-app-secret").status_code == 403


# ----- Twilio: real RequestValidator signatures, proxy headers

def twilio_integration(organization, provider_name="twilio_whatsapp"):
    return make_integration(
        organization=organization, provider_name=provider_name,
        config={"account_sid": TWILIO_SID, "from_number": "+14155238886"}, credentials={"auth_token": TWILIO_TOKEN},
    )


def post_twilio(client, integration, params, *, signed_url=None, **headers):
    url = signed_url or "http://testserver" + webhook_path(integration)
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, params)
    return client.post(webhook_path(integration), data=urlencode(params), content_type="application/x-www-form-urlencoded",
                       HTTP_X_TWILIO_SIGNATURE=signature, **headers)


def test_twilio_status_callback_with_an_official_signature(client, organization):
    integration = twilio_integration(organization)
    message = outbound(integration, "SM" + "a" * 32)
    params = {"MessageSid": "SM" + "a" * 32, "MessageStatus": "read", "AccountSid": TWILIO_SID, "To": "whatsapp:+16505551234"}
    assert post_twilio(client, integration, params).status_code == 200
    message.refresh_from_db()
    assert message.status == "read"


def test_twilio_tampered_parameter_is_rejected(client, organization):
    integration = twilio_integration(organization)
    params = {"MessageSid": "SM1", "MessageStatus": "delivered"}
    url = "http://testserver" + webhook_path(integration)
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, params)
    response = client.post(webhook_path(integration), data=urlencode({**params, "MessageStatus": "read"}),
                           content_type="application/x-www-form-urlencoded", HTTP_X_TWILIO_SIGNATURE=signature)
    assert response.status_code == 403


PROXY_HEADERS = {"HTTP_X_FORWARDED_PROTO": "https", "HTTP_X_FORWARDED_HOST": "hooks.example.com"}


def test_twilio_behind_a_trusted_proxy_verifies_the_public_url(client, organization, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.USE_X_FORWARDED_HOST = True
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "hooks.example.com"]
    integration = twilio_integration(organization)
    params = {"MessageSid": "SM1", "MessageStatus": "delivered"}
    public_url = "https://hooks.example.com" + webhook_path(integration)
    assert post_twilio(client, integration, params, signed_url=public_url, **PROXY_HEADERS).status_code == 200


def test_twilio_forwarded_headers_are_ignored_when_the_proxy_is_not_trusted(client, organization, settings):
    settings.SECURE_PROXY_SSL_HEADER = None
    settings.USE_X_FORWARDED_HOST = False
    integration = twilio_integration(organization)
    params = {"MessageSid": "SM1", "MessageStatus": "delivered"}
    public_url = "https://hooks.example.com" + webhook_path(integration)
    assert post_twilio(client, integration, params, signed_url=public_url, **PROXY_HEADERS).status_code == 403


def test_twilio_voice_call_progress(client, organization):
    integration = twilio_integration(organization, provider_name="twilio_voice")
    call = Call.objects.create(organization=organization, integration=integration, provider_name="twilio_voice",
                               to="+16505551234", status=Call.Status.INITIATED, provider_call_id="CA1")
    for params in (
        {"CallSid": "CA1", "CallStatus": "completed", "CallDuration": "42"},
        {"CallSid": "CA1", "CallStatus": "in-progress"},  # late: must not undo completion
    ):
        assert post_twilio(client, integration, params).status_code == 200
    call.refresh_from_db()
    assert (call.status, call.duration_seconds) == ("completed", 42)
    assert call.ended_at is not None


# ----- Telnyx: Ed25519

@pytest.fixture
def eager_celery():
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def post_telnyx(client, integration, body, timestamp=None):
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = base64.b64encode(TELNYX_KEY.sign(f"{timestamp}|".encode() + body)).decode()
    return client.post(webhook_path(integration), data=body, content_type="application/json",
                       HTTP_TELNYX_SIGNATURE_ED25519=signature, HTTP_TELNYX_TIMESTAMP=str(timestamp))


def test_telnyx_answer_runs_the_calls_instructions_and_the_cost_is_recorded(client, organization, eager_celery,
                                                                            django_capture_on_commit_callbacks):
    from providers.voip import telnyx_events
    from tests.providers.loopback import LoopbackServer, Reply

    with LoopbackServer() as telnyx:
        telnyx.route("POST", "/v2/calls/v3:abc/actions/speak", Reply(json={"data": {"result": "ok"}}))
        integration = make_integration(
            organization=organization, provider_name="telnyx",
            config={"connection_id": "1494404757140276705", "from_number": "+18005550101", "public_key": TELNYX_PUBLIC,
                    "base_url": telnyx.url},
            credentials={"api_key": "KEY-telnyx-webhooks-2"},
        )
        call = Call.objects.create(organization=organization, integration=integration, provider_name="telnyx",
                                   to="+16505551234", status=Call.Status.INITIATED, provider_call_id="v3:abc")
        state = telnyx_events.encode_state({"r": str(call.pk), "i": 0, "s": [["speak", "Hello", 0, "", "", "", 1], ["hangup", "", 0, "", "", "", 1]]})
        answered = json.dumps({"data": {"event_type": "call.answered", "id": "evt-a", "occurred_at": "2026-11-22T10:00:05Z",
                                        "payload": {"call_control_id": "v3:abc", "client_state": state}}}).encode()
        with django_capture_on_commit_callbacks(execute=True):
            assert post_telnyx(client, integration, answered).status_code == 200
        [speak] = telnyx.requests_to("POST", "/v2/calls/v3:abc/actions/speak")
        assert (speak.json()["payload"], speak.header("Authorization")) == ("Hello", "Bearer KEY-telnyx-webhooks-2")
    call.refresh_from_db()
    assert call.status == "answered"
    cost = json.dumps({"data": {"event_type": "call.cost", "id": "evt-c", "occurred_at": "2026-11-22T10:01:35Z", "payload": {
        "call_control_id": "v3:abc", "status": "success", "total_cost": "0.0096",
        "cost_parts": [{"call_part": "call-control", "cost": "0.0096", "currency": "USD"}]}}}).encode()
    assert post_telnyx(client, integration, cost).status_code == 200
    call.refresh_from_db()
    assert (call.cost, call.currency, call.cost_source) == (Decimal("0.0096"), "USD", "provider")

def test_telnyx_signed_hangup_and_an_expired_one(client, organization):
    integration = make_integration(
        organization=organization, provider_name="telnyx",
        config={"connection_id": "1494404757140276705", "from_number": "+18005550101", "public_key": TELNYX_PUBLIC},
        credentials={"api_key": "KEY-telnyx-webhooks-1"},
    )
    call = Call.objects.create(organization=organization, integration=integration, provider_name="telnyx",
                               to="+16505551234", status=Call.Status.ANSWERED, provider_call_id="v3:abc")
    # Telnyx's call.hangup has no end_time: the event's occurred_at is when the call ended.
    body = json.dumps({"data": {"event_type": "call.hangup", "id": "evt-1", "occurred_at": "2026-11-22T10:01:30Z", "payload": {
        "call_control_id": "v3:abc", "hangup_cause": "normal_clearing", "start_time": "2026-11-22T10:00:00Z"}}}).encode()

    def post(timestamp):
        return post_telnyx(client, integration, body, timestamp)

    assert post(int(time.time()) - 400).status_code == 403
    call.refresh_from_db()
    assert call.status == "answered"
    assert post(int(time.time())).status_code == 200
    call.refresh_from_db()
    assert (call.status, call.duration_seconds) == ("completed", 90)


# ----- WAHA: HMAC-SHA512, acks and session status

def test_bridge_ack_and_session_status(client, organization):
    integration = make_integration(
        organization=organization, provider_name="whatsapp_web",
        config={"base_url": "http://127.0.0.1:3000"}, credentials={"api_key": "waha-key-webhooks-1"},
    )
    message = outbound(integration, "true_1@c.us_X")

    def post(payload):
        body = json.dumps(payload).encode()
        signature = hmac.new(integration.webhook_secret.encode(), body, hashlib.sha512).hexdigest()
        return client.post(webhook_path(integration), data=body, content_type="application/json",
                           HTTP_X_WEBHOOK_HMAC=signature, HTTP_X_WEBHOOK_HMAC_ALGORITHM="sha512")

    assert post({"id": "evt_1", "event": "message.ack", "session": "default",
                 "payload": {"id": "true_1@c.us_X", "ack": 2, "ackName": "DEVICE"}}).status_code == 200
    message.refresh_from_db()
    assert message.status == "delivered"
    assert post({"id": "evt_2", "event": "session.status", "session": "default", "payload": {"status": "FAILED"}}).status_code == 200
    integration.refresh_from_db()
    assert integration.health_status == OrganizationIntegration.Health.DOWN


def test_integration_whose_provider_is_gone_is_404(client, organization):
    integration = meta_integration(organization)
    OrganizationIntegration.objects.for_org(organization).filter(pk=integration.pk).update(provider_name="uninstalled_plugin")
    assert post_meta(client, integration, meta_body()).status_code == 404


def test_evolution_bridge_token_in_the_webhook_url(client, organization):
    integration = make_integration(
        organization=organization, provider_name="whatsapp_web",
        config={"base_url": "http://127.0.0.1:8080", "api": "evolution", "session": "main"},
        credentials={"api_key": "evo-key-webhooks-1"},
    )
    body = json.dumps({"event": "messages.upsert", "instance": "main", "data": {
        "key": {"remoteJid": "14155550123@s.whatsapp.net", "fromMe": False, "id": "EVO1"}, "message": {"conversation": "oi"}}}).encode()
    path = webhook_path(integration)
    assert client.post(f"{path}?token=guess", data=body, content_type="application/json").status_code == 403
    assert client.post(f"{path}?{urlencode({'token': integration.webhook_secret})}", data=body,
                       content_type="application/json").status_code == 200
    inbound = Message.objects.for_org(organization).get(direction=Message.Direction.INBOUND)
    assert (inbound.provider_message_id, inbound.body, inbound.from_number) == ("EVO1", "oi", "+14155550123")
    rejected = AuditEvent.objects.get(action="webhook.rejected")
    assert "guess" not in json.dumps([rejected.before, rejected.after, rejected.reason])
