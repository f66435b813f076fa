"""What a tenant sees of a provider failure: status, the provider's documented code and
message, bounded and scrubbed; never a raw body, never an exception from an odd answer."""

from __future__ import annotations

import pytest

from providers.errors import ProviderError, ProviderRejected, ProviderUnavailable, bounded_text
from providers.values import HealthStatus, OutboundMessage
from providers.voip.twilio_voice import TwilioVoice
from providers.whatsapp.meta_cloud import MetaCloudWhatsApp
from providers.whatsapp.twilio import TwilioWhatsApp
from providers.whatsapp.web_bridge import WhatsAppWebBridge
from tests.providers.loopback import LoopbackServer, Reply

TOKEN = "EAAG-very-secret-token-0123456789"
ACCOUNT = "AC" + "1" * 32
AUTH_TOKEN = "twilio-auth-token-0123456789"


@pytest.fixture
def server():
    with LoopbackServer() as server:
        yield server


def meta(server) -> MetaCloudWhatsApp:
    return MetaCloudWhatsApp(
        config={"phone_number_id": "1234", "base_url": server.url, "read_timeout": 2},
        credentials={"access_token": TOKEN, "app_secret": "app-secret-0123456789"},
    )


def test_messages_are_one_bounded_line():
    error = ProviderRejected("line one\nline two\x00\x1b[31m" + "x" * 5000, code="<script>alert(1)</script>" * 10)
    assert "\n" not in error.message and "\x00" not in error.message and "\x1b" not in error.message
    assert len(error.message) <= 300 and error.message.endswith("…")
    assert error.code is not None and "<" not in error.code and len(error.code) <= 64


def test_authorization_values_are_removed_from_any_message():
    assert "abcdef123456" not in bounded_text("upstream said: Authorization: Bearer abcdef123456 rejected")
    assert "QUMxMTE6c2VjcmV0" not in bounded_text("Basic QUMxMTE6c2VjcmV0 was refused")


def test_a_long_provider_message_echoing_the_token_is_bounded_and_scrubbed(server):
    server.route("POST", "/v21.0/1234/messages",
                 Reply(status=400, json={"error": {"message": "bad " + TOKEN + " " + "y" * 10_000, "code": 100}}))
    with pytest.raises(ProviderRejected) as caught:
        meta(server).send_message(OutboundMessage(to="+14155550123", body="hi"))
    text = str(caught.value)
    assert TOKEN not in text and len(text) < 320
    assert caught.value.code == "100" and caught.value.status == 400


def test_a_raw_html_error_page_never_reaches_the_tenant(server):
    page = b"<html><body>Internal admin panel: db password hunter2</body></html>"
    server.route("GET", "/v21.0/1234", Reply(status=500, body=page, headers={"Content-Type": "text/html"}))
    health = meta(server).test_connection()
    assert health.status == HealthStatus.DOWN
    assert "hunter2" not in health.detail and "<html" not in health.detail
    assert "HTTP 500" in health.detail


@pytest.mark.parametrize("body", [{"error": "a plain string"}, {"error": ["x"]}, [1, 2, 3], "null"])
def test_an_error_body_the_adapter_cannot_classify_still_fails_cleanly(server, body):
    server.route("POST", "/v21.0/1234/messages", Reply(status=403, json=body))
    with pytest.raises(ProviderError) as caught:
        meta(server).send_message(OutboundMessage(to="+14155550123", body="hi"))
    assert caught.value.status == 403 and "403" in str(caught.value)


@pytest.mark.parametrize("answer", [[1, 2, 3], "a string", None, 42, {"health_status": [1]}, {"health_status": {"can_send_message": {"x": 1}}}])
def test_a_health_answer_of_any_shape_is_a_down_or_degraded_health_never_an_exception(server, answer):
    """Finding 3: ``[1,2,3]`` made check_health raise AttributeError and stopped every tenant's run."""
    server.route("GET", "/v21.0/1234", Reply(json=answer))
    health = meta(server).test_connection()
    assert health.status in (HealthStatus.DOWN, HealthStatus.DEGRADED)
    assert TOKEN not in health.detail and len(health.detail) <= 300


@pytest.mark.parametrize("adapter_class", [TwilioWhatsApp, TwilioVoice])
def test_health_details_built_from_provider_fields_are_bounded(server, adapter_class):
    server.route("GET", f"/2010-04-01/Accounts/{ACCOUNT}.json", Reply(json={"status": "suspended " + AUTH_TOKEN + " " + "z" * 9000}))
    adapter = adapter_class(
        config={"account_sid": ACCOUNT, "from_number": "+14155550100", "base_url": server.url},
        credentials={"auth_token": AUTH_TOKEN},
    )
    health = adapter.test_connection()
    assert health.status == HealthStatus.DOWN
    assert AUTH_TOKEN not in health.detail and len(health.detail) <= 300


def test_bridge_errors_keep_status_and_message_only(server):
    server.route("POST", "/api/sendText", Reply(status=422, json={"message": "chat not found", "stack": "at /srv/app.js:1 " * 50}))
    adapter = WhatsAppWebBridge(config={"base_url": server.url}, credentials={"api_key": "bridge-key-0123456789"})
    with pytest.raises(ProviderRejected) as caught:
        adapter.send_message(OutboundMessage(to="+14155550123", body="hi"))
    assert "chat not found" in str(caught.value) and "app.js" not in str(caught.value)


def test_a_body_that_is_not_json_on_success_is_an_outage_not_a_crash(server):
    server.route("POST", "/v21.0/1234/messages", Reply(body=b"[" * 100_000, headers={"Content-Type": "application/json"}))
    with pytest.raises(ProviderUnavailable) as caught:
        meta(server).send_message(OutboundMessage(to="+14155550123", body="hi"))
    assert caught.value.code == "malformed_response"
