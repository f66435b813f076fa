"""Providers that hang past their timeout, answer 500, answer 429 — real adapters over HTTP.

Three Meta Cloud integrations talk to loopback servers scripted to fail in one way each; a
sandbox integration is the last fallback. What the service tests (test_dispatch, test_breaker)
show with the sandbox's simulated failures is shown here through ``requests``/urllib3 and the
adapter's own error classification: every message goes out exactly once through the fallback,
each failure counts towards that integration's breaker, and after N failures the breakers open
and the failing providers are no longer called.
"""

from __future__ import annotations

import time

import pytest

from audit.models import AuditEvent
from integrations.models import Message
from integrations.services.delivery import breaker, dispatch
from providers import sandbox
from tests.factories import make_integration
from tests.providers.loopback import LoopbackServer, Reply

PHONE_ID = "1234567890"
MESSAGES_PATH = f"/v21.0/{PHONE_ID}/messages"
READ_TIMEOUT = 0.3
THRESHOLD = 3
MESSAGES = 6
TO = "+5491155550000"

FAULTS = {
    # Answers, but only long after the adapter's read timeout.
    "hang": Reply(status=200, json={"messages": [{"id": "wamid.too-late"}]}, delay=READ_TIMEOUT * 10),
    "500": Reply(status=500, json={"error": {"message": "Service temporarily unavailable", "code": 2}}),
    "429": Reply(status=429, json={"error": {"message": "(#4) Application request limit reached", "code": 4}},
                 headers={"Retry-After": "30"}),
}


@pytest.fixture
def faulty_servers():
    servers = {name: LoopbackServer().start() for name in FAULTS}
    for name, server in servers.items():
        server.route("POST", MESSAGES_PATH, FAULTS[name])
    yield servers
    for server in servers.values():
        server.stop()


@pytest.mark.django_db
def test_hang_and_500_open_their_breakers_429_paces_and_no_message_is_lost(organization, faulty_servers, settings):
    settings.BREAKER_FAILURE_THRESHOLD = THRESHOLD
    settings.BREAKER_COOLDOWN_SECONDS = 300
    settings.DELIVERY_MAX_RETRIES = 0
    settings.DELIVERY_PACING_MAX_WAIT = 0  # a held integration is passed over at once
    faulty = {
        name: make_integration(
            organization=organization, provider_name="meta_cloud", display_name=f"Meta {name}",
            config={"phone_number_id": PHONE_ID, "base_url": server.url, "read_timeout": READ_TIMEOUT,
                    "connect_timeout": 1.0},
            credentials={"access_token": "EAAG-test-token-0123456789", "app_secret": "app-secret-0123456789"},
            priority=100 - k,
        )
        for k, (name, server) in enumerate(faulty_servers.items())
    }
    fallback = make_integration(organization=organization, display_name="Sandbox", config={"label": "fallback"},
                                priority=0)
    assert faulty["hang"].is_primary

    started = time.monotonic()
    messages = []
    for n in range(MESSAGES):
        message = Message.objects.create(organization=organization, channel="whatsapp", to=TO, body=f"m{n}")
        outcome = dispatch.deliver_message(message_id=message.pk)
        assert outcome.status == dispatch.DELIVERED, outcome
        message.refresh_from_db()
        messages.append(message)
    elapsed = time.monotonic() - started

    # No message lost, none sent twice: each went out once, through the fallback.
    assert all(m.status == Message.Status.SENT and m.integration_id == fallback.pk for m in messages)
    assert sorted(r["client_reference"] for r in sandbox.outbox) == sorted(str(m.pk) for m in messages)

    names = {str(row.pk): name for name, row in faulty.items()} | {str(fallback.pk): "fallback"}
    tried = [[(names[a["integration"]], a["outcome"]) for a in m.attempts] for m in messages]
    # The 429 (Retry-After: 30) holds its integration back for every later message: pacing, not
    # a failure, so its breaker stays closed.
    first_round = [("hang", "unavailable"), ("500", "unavailable"), ("429", "unavailable"), ("fallback", "sent")]
    failing_round = [("hang", "unavailable"), ("500", "unavailable"), ("429", "paced"), ("fallback", "sent")]
    skipping_round = [("hang", "skipped_breaker"), ("500", "skipped_breaker"), ("429", "paced"), ("fallback", "sent")]
    assert tried == [first_round] + [failing_round] * (THRESHOLD - 1) + [skipping_round] * (MESSAGES - THRESHOLD)
    first = {names[a["integration"]]: a for a in messages[0].attempts}
    assert first["hang"]["error_code"] == "timeout"
    assert first["500"]["error_code"] in ("2", "500")
    assert first["429"]["error_code"] in ("4", "429")
    # The hang cost the read timeout, not the server's delay.
    assert first["hang"]["latency_ms"] < READ_TIMEOUT * 1000 * 5

    # Each provider was called exactly THRESHOLD times (a POST is never retried by urllib3),
    # then its open breaker kept delivery away from it.
    assert {name: len(server.requests_to("POST", MESSAGES_PATH)) for name, server in faulty_servers.items()} == {
        "hang": THRESHOLD, "500": THRESHOLD, "429": 1,
    }
    for name in ("hang", "500"):
        row = faulty[name]
        row.refresh_from_db()
        assert row.consecutive_failures == THRESHOLD, name
        assert breaker.breaker_state(integration=row) == breaker.BreakerState.OPEN, name
    faulty["429"].refresh_from_db()
    assert faulty["429"].consecutive_failures == 0
    assert breaker.breaker_state(integration=faulty["429"]) == breaker.BreakerState.CLOSED
    opened = AuditEvent.objects.for_org(organization).filter(action="integration.breaker_opened")
    assert sorted(opened.values_list("target_id", flat=True)) == sorted(str(faulty[n].pk) for n in ("hang", "500"))
    # Bounded: three hung sends, not six, and never the server's full delay.
    assert elapsed < THRESHOLD * READ_TIMEOUT * 10
