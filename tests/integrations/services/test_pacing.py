"""Provider rate limits as pacing: send_rate_limit through the one config validator, a Redis
bucket shared by every worker (a per-process one without Redis), and "too many requests" slowing
that integration down without tripping its breaker."""

from __future__ import annotations

import threading
import time

import pytest
from django.core.exceptions import ValidationError

from integrations.models import Message
from integrations.services.delivery import dispatch, pacing
from providers.sandbox import SandboxWhatsApp
from providers.voip.telnyx import Telnyx
from providers.voip.twilio_voice import TwilioVoice
from providers.whatsapp.meta_cloud import MetaCloudWhatsApp
from providers.whatsapp.twilio import TwilioWhatsApp
from providers.whatsapp.web_bridge import WhatsAppWebBridge
from tests.factories import make_integration

TO = "+5491155550000"


def test_send_rate_limit_goes_through_the_one_validator_with_documented_defaults():
    assert MetaCloudWhatsApp.send_rate_limit({}) == 80
    assert TwilioWhatsApp.send_rate_limit({}) == 80
    assert TwilioVoice.send_rate_limit({}) == 1
    assert Telnyx.send_rate_limit({}) == 30
    assert WhatsAppWebBridge.send_rate_limit({}) == 0 and SandboxWhatsApp.send_rate_limit({}) == 0
    assert MetaCloudWhatsApp.send_rate_limit({"send_rate_limit": 250}) == 250
    assert MetaCloudWhatsApp.send_rate_limit({"send_rate_limit": 0}) == 0  # editable down to unlimited
    SandboxWhatsApp.validate_config({"send_rate_limit": 12.5})
    for bad in (-1, "fast", 10**9, True):
        with pytest.raises(ValidationError) as caught:
            SandboxWhatsApp.validate_config({"send_rate_limit": bad})
        assert "send_rate_limit" in caught.value.message_dict, bad


def _take_turns(integration, n: int, threads: int = 2) -> float:
    started = time.monotonic()
    per_thread = n // threads

    def taker():
        for _ in range(per_thread):
            assert pacing.wait_turn(integration=integration, max_wait=5)

    pool = [threading.Thread(target=taker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(10)
    return time.monotonic() - started


@pytest.mark.django_db
def test_sends_are_spaced_across_workers_by_a_bucket_in_redis(organization):
    integration = make_integration(organization=organization, config={"send_rate_limit": 20})
    # 12 turns at 20/s with a tenth of a second of burst: about half a second, whoever asks.
    elapsed = _take_turns(integration, 12)
    assert 0.35 <= elapsed < 2.0, elapsed
    # The bucket lives in Redis, not in this process: another worker (nothing kept here) waits too.
    pacing._local.clear()
    assert pacing._ask(integration.pk, 1 / 20, "take") > 0
    assert not pacing.wait_turn(integration=integration, max_wait=0)


@pytest.mark.django_db
def test_without_redis_each_process_keeps_its_own_bucket(organization, settings, monkeypatch, caplog):
    integration = make_integration(organization=organization, config={"send_rate_limit": 20})
    monkeypatch.setattr(pacing, "_script", None)
    settings.REDIS_URL = ""
    elapsed = _take_turns(integration, 12)
    assert 0.35 <= elapsed < 2.0, elapsed
    assert str(integration.pk) in pacing._local


@pytest.mark.django_db
def test_unlimited_integrations_never_wait(organization):
    integration = make_integration(organization=organization)  # the sandbox: no documented limit
    assert _take_turns(integration, 200) < 1.0


@pytest.mark.django_db
@pytest.mark.parametrize("limit", [40, None], ids=["with a limit: every worker", "unlimited: this process"])
def test_too_many_requests_slows_that_integration_without_tripping_its_breaker(organization, settings, limit):
    settings.BREAKER_FAILURE_THRESHOLD = 2
    settings.DELIVERY_PACING_MAX_WAIT = 0  # a held integration is passed over at once
    config = {"label": "busy", "failure_rate": 1, "failure_mode": "rate_limited"}
    if limit:
        config["send_rate_limit"] = limit
    busy = make_integration(organization=organization, display_name="Busy", config=config)
    other = make_integration(organization=organization, display_name="Other", config={"label": "other"})
    outcomes = []
    for n in range(3):
        message = Message.objects.create(organization=organization, channel="whatsapp", to=TO, body=f"m{n}")
        assert dispatch.deliver_message(message_id=message.pk).status == dispatch.DELIVERED
        message.refresh_from_db()
        assert message.integration_id == other.pk
        outcomes.append([a["outcome"] for a in message.attempts])
    # The 429 held the busy integration back: the next messages did not even try it.
    assert outcomes == [["unavailable", "sent"], ["paced", "sent"], ["paced", "sent"]]
    busy.refresh_from_db()
    assert busy.consecutive_failures == 0 and busy.breaker_open_until is None
    if limit:  # the hold is in the shared bucket: another worker (nothing kept here) holds off too
        pacing._held_until.clear()
        assert 0 < pacing._ask(busy.pk, 1 / limit, "take") <= 1.1
    assert pacing.wait_turn(integration=other, max_wait=0)


@pytest.mark.django_db
def test_an_integration_at_its_limit_for_too_long_is_passed_over_not_failed(organization, settings):
    settings.DELIVERY_PACING_MAX_WAIT = 0
    slow = make_integration(organization=organization, display_name="Slow", config={"label": "slow", "send_rate_limit": 0.01})
    fast = make_integration(organization=organization, display_name="Fast", config={"label": "fast"})
    first, second = (Message.objects.create(organization=organization, channel="whatsapp", to=TO, body=b) for b in "ab")
    dispatch.deliver_message(message_id=first.pk)
    dispatch.deliver_message(message_id=second.pk)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.integration_id == slow.pk
    assert second.integration_id == fast.pk
    assert [a["outcome"] for a in second.attempts] == ["paced", "sent"]
    slow.refresh_from_db()
    assert slow.consecutive_failures == 0


@pytest.mark.django_db
def test_waiting_for_a_turn_never_uses_up_a_messages_retries(organization, settings):
    settings.DELIVERY_PACING_MAX_WAIT = 0
    settings.DELIVERY_MAX_RETRIES = 1
    only = make_integration(organization=organization, config={"label": "only", "send_rate_limit": 0.01})
    assert pacing.wait_turn(integration=only, max_wait=0)  # its one turn for the next 100 s is gone
    message = Message.objects.create(organization=organization, channel="whatsapp", to=TO, body="later")
    for _ in range(3):  # more rounds than DELIVERY_MAX_RETRIES allows failures
        with pytest.raises(dispatch.DeliveryDeferred):
            dispatch.deliver_message(message_id=message.pk)
        Message.objects.filter(pk=message.pk).update(lease_expires_at=None)
    message.refresh_from_db()
    assert message.status == "queued" and message.retry_count == 0
    assert [a["outcome"] for a in message.attempts] == ["paced"] * 3
