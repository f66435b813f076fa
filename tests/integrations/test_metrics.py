"""Prometheus metrics: what services report, what /metrics shows, and who may read it.

Counters are read from the scrape itself (parsed with prometheus-client's own parser), before
and after the thing happens, so each test sees only its own increments.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from integrations.models import Message, OrganizationIntegration
from integrations.services import routing
from integrations.services.delivery import breaker, dispatch
from integrations.services.health import evaluate_failover, run_health_checks
from integrations.services.switching import switch_primary
from tests.factories import make_integration

TOKEN = "scrape-token-0123456789"
TO = "+5491155550123"
BODY = "Your order 4471 has shipped"
DOWN = {"failure_rate": 1, "failure_mode": "unavailable"}


@pytest.fixture
def metrics_on(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ORGANIZATION_LABEL = False
    settings.DELIVERY_MAX_RETRIES = 2
    settings.BREAKER_FAILURE_THRESHOLD = 50
    return settings


def scrape(client) -> str:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return response.content.decode()


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(text: str, name: str, **labels) -> float:
    return samples(text).get((name, frozenset(labels.items())), 0.0)


def queued_message(organization) -> Message:
    return Message.objects.create(organization=organization, channel="whatsapp", to=TO, body=BODY)


# --------------------------------------------------------------------------- access


@pytest.mark.django_db
def test_metrics_are_closed_when_no_token_is_set(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


@pytest.mark.django_db
def test_metrics_need_the_bearer_token(client, metrics_on):
    for header in ({}, {"HTTP_AUTHORIZATION": "Bearer wrong-token"}, {"HTTP_AUTHORIZATION": f"Token {TOKEN}"},
                   {"HTTP_AUTHORIZATION": TOKEN}):
        response = client.get("/metrics", **header)
        assert response.status_code == 401, header
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert b"switchboard_" not in response.content
    assert client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405
    assert "switchboard_route_cache_lookups_total" in scrape(client)


# --------------------------------------------------------------------------- deliveries


@pytest.mark.django_db
def test_a_send_through_the_fallback_counts_outcome_attempts_latency_and_the_failover(client, organization, metrics_on):
    make_integration(organization=organization, display_name="Primary", config={"label": "p", **DOWN})
    make_integration(organization=organization, display_name="Fallback", config={"label": "f"})
    before = scrape(client)

    assert dispatch.deliver_message(message_id=queued_message(organization).pk).status == dispatch.DELIVERED

    after = scrape(client)
    common = {"kind": "message", "channel": "whatsapp", "organization": ""}
    sent = {**common, "provider": "sandbox_whatsapp", "outcome": "sent"}
    assert value(after, "switchboard_deliveries_total", **sent) - value(before, "switchboard_deliveries_total", **sent) == 1
    unavailable = {**common, "provider": "sandbox_whatsapp", "outcome": "unavailable"}
    for labels in (sent, unavailable):
        delta = value(after, "switchboard_provider_attempts_total", **labels) - value(before, "switchboard_provider_attempts_total", **labels)
        assert delta == 1, labels
    failover = {**common, "cause": "unavailable"}
    assert value(after, "switchboard_delivery_failovers_total", **failover) - value(before, "switchboard_delivery_failovers_total", **failover) == 1
    latency = {"channel": "whatsapp", "provider": "sandbox_whatsapp", "operation": "send_message"}
    assert value(after, "switchboard_provider_call_seconds_count", **latency) - value(before, "switchboard_provider_call_seconds_count", **latency) == 2


@pytest.mark.django_db
def test_deferred_then_failed_rounds_count_their_outcomes(client, organization, metrics_on):
    make_integration(organization=organization, display_name="Only", config={"label": "o", **DOWN})
    message = queued_message(organization)
    before = scrape(client)
    labels = {"kind": "message", "channel": "whatsapp", "provider": "sandbox_whatsapp", "organization": ""}

    for _ in range(metrics_on.DELIVERY_MAX_RETRIES):
        with pytest.raises(dispatch.DeliveryDeferred):
            dispatch.deliver_message(message_id=message.pk)
        Message.objects.filter(pk=message.pk).update(lease_expires_at=None)
    assert dispatch.deliver_message(message_id=message.pk).status == dispatch.FAILED

    after = scrape(client)
    deferred = value(after, "switchboard_deliveries_total", outcome="deferred", **labels) - value(
        before, "switchboard_deliveries_total", outcome="deferred", **labels)
    failed = value(after, "switchboard_deliveries_total", outcome="failed", **labels) - value(
        before, "switchboard_deliveries_total", outcome="failed", **labels)
    attempts = value(after, "switchboard_provider_attempts_total", outcome="unavailable", **labels) - value(
        before, "switchboard_provider_attempts_total", outcome="unavailable", **labels)
    assert (deferred, failed, attempts) == (metrics_on.DELIVERY_MAX_RETRIES, 1, metrics_on.DELIVERY_MAX_RETRIES + 1)


@pytest.mark.django_db
def test_labels_carry_no_number_body_or_secret_and_the_organization_only_when_enabled(client, organization, metrics_on):
    make_integration(organization=organization, display_name="Primary Acme Line", config={"label": "p"})
    dispatch.deliver_message(message_id=queued_message(organization).pk)
    text = scrape(client)
    for private in (TO, TO.lstrip("+"), BODY, "4471", "Primary Acme Line", "acme", "sk_test", "api_key"):
        assert private not in text, private

    metrics_on.METRICS_ORGANIZATION_LABEL = True
    dispatch.deliver_message(message_id=queued_message(organization).pk)
    text = scrape(client)
    assert value(text, "switchboard_deliveries_total", kind="message", channel="whatsapp",
                 provider="sandbox_whatsapp", outcome="sent", organization="acme") == 1
    assert TO not in text and BODY not in text


# --------------------------------------------------------------------------- routing, switching, breakers, health


@pytest.mark.django_db
def test_route_cache_hits_misses_and_an_unreachable_cache_are_counted(client, organization, metrics_on):
    make_integration(organization=organization, config={"label": "p"})
    before = scrape(client)
    routing.resolve(organization_id=organization.pk, channel="whatsapp")
    routing.resolve(organization_id=organization.pk, channel="whatsapp")
    routing.resolve(organization_id=organization.pk, channel="whatsapp")
    # Nothing listens on port 1: the cache is unreachable, as when Redis is down.
    metrics_on.CACHES = {"default": {
        "BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
    }}
    assert not routing.resolve(organization_id=organization.pk, channel="whatsapp").from_cache
    after = scrape(client)

    def delta(result):
        return value(after, "switchboard_route_cache_lookups_total", result=result) - value(
            before, "switchboard_route_cache_lookups_total", result=result)

    assert (delta("miss"), delta("hit"), delta("unavailable")) == (1, 2, 1)


@pytest.mark.django_db(transaction=True)
def test_committed_switches_and_health_failovers_are_counted_by_cause(client, organization, metrics_on):
    organization.auto_failover = True
    organization.save(update_fields=["auto_failover"])
    primary = make_integration(organization=organization, display_name="Primary", config={"label": "p"})
    backup = make_integration(organization=organization, display_name="Backup", config={"label": "b"})
    before = scrape(client)

    switch_primary(organization=organization, channel="whatsapp", target=backup, actor="system:test", reason="cheaper")
    switch_primary(organization=organization, channel="whatsapp", target=backup, actor="system:test")  # a no-op
    OrganizationIntegration.objects.filter(pk=backup.pk).update(breaker_open_until=timezone.now() + timedelta(minutes=5))
    assert evaluate_failover(organization=organization, channel="whatsapp").startswith("failed over to")

    after = scrape(client)
    labels = {"channel": "whatsapp", "organization": ""}
    for name, extra, expected in (
        ("switchboard_switches_total", {"cause": "manual"}, 1),
        ("switchboard_switches_total", {"cause": "failover"}, 1),
        ("switchboard_failovers_total", {"cause": "breaker_open"}, 1),
        ("switchboard_failovers_total", {"cause": "health_checks"}, 0),
    ):
        assert value(after, name, **labels, **extra) - value(before, name, **labels, **extra) == expected, (name, extra)
    assert OrganizationIntegration.objects.get(pk=primary.pk).is_primary


@pytest.mark.django_db
def test_open_breakers_are_read_from_the_database_and_transitions_counted(client, organization, metrics_on):
    metrics_on.BREAKER_FAILURE_THRESHOLD = 2
    integration = make_integration(organization=organization, config={"label": "p"})
    make_integration(organization=organization, provider_name="sandbox_voip", config={"label": "v"})
    before = scrape(client)
    gauge = {"channel": "whatsapp", "provider": "sandbox_whatsapp"}
    assert value(before, "switchboard_breaker_open", **gauge) == 0

    breaker.record_failure(integration=integration, detail="timeout")
    assert value(scrape(client), "switchboard_breaker_open", **gauge) == 0
    breaker.record_failure(integration=integration, detail="timeout")
    opened = scrape(client)
    assert value(opened, "switchboard_breaker_open", **gauge) == 1
    assert value(opened, "switchboard_breaker_open", channel="voip", provider="sandbox_voip") == 0

    breaker.record_success(integration=integration)
    closed = scrape(client)
    assert value(closed, "switchboard_breaker_open", **gauge) == 0
    for state in ("opened", "closed"):
        name = "switchboard_breaker_transitions_total"
        assert value(closed, name, state=state, **gauge) - value(before, name, state=state, **gauge) == 1


@pytest.mark.django_db
def test_health_checks_observe_provider_latency(client, organization, metrics_on):
    make_integration(organization=organization, config={"label": "p"})
    labels = {"channel": "whatsapp", "provider": "sandbox_whatsapp", "operation": "health_check"}
    before = value(scrape(client), "switchboard_provider_call_seconds_count", **labels)
    run_health_checks(organization=organization)
    assert value(scrape(client), "switchboard_provider_call_seconds_count", **labels) - before == 1


# --------------------------------------------------------------------------- queues


@pytest.mark.django_db
def test_queue_depth_and_waiting_deliveries_are_read_when_scraped(client, organization, metrics_on):
    from celery import current_app

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete("celery")
    try:
        assert value(scrape(client), "switchboard_queue_depth", queue="celery") == 0
        for _ in range(3):
            current_app.send_task("integrations.tasks.sweep_stalled_deliveries")
        queued_message(organization)
        text = scrape(client)
        assert value(text, "switchboard_queue_depth", queue="celery") == broker.llen("celery") == 3
        assert value(text, "switchboard_deliveries_waiting", kind="message") == 1
        assert value(text, "switchboard_deliveries_waiting", kind="call") == 0
    finally:
        broker.delete("celery")
        broker.close()


@pytest.mark.django_db
def test_the_grafana_dashboard_queries_only_metrics_that_are_served(client, metrics_on):
    import json
    import re
    from pathlib import Path

    dashboard = json.loads((Path(settings.BASE_DIR) / "docs" / "grafana-dashboard.json").read_text())
    queried = {
        re.sub(r"_(total|bucket|count|sum)$", "", name)
        for panel in dashboard["panels"] for target in panel["targets"]
        for name in re.findall(r"switchboard_[a-z_]+", target["expr"])
    }
    served = {family.name for family in text_string_to_metric_families(scrape(client))}
    assert len(queried) >= 9
    assert queried <= served, queried - served
