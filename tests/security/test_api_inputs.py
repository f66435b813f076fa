"""Findings 11, 14 and 15: no input makes the API answer 500.

11. 50k-deep JSON, config nested 900 deep, NUL or lone surrogates in config, a 900-digit
    ``average_call_seconds``, concurrent creates with one display name, odd dates and
    ``page_size`` values on the lists.
14. An ``Idempotency-Key`` reused with a different body returned the first message silently:
    now 422 ``idempotency_key_reused``.
15. On the embedded default (eager Celery) a send whose provider failed retryably answered 500
    although the message was stored.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from config.celery import app as celery_app
from integrations.models import Message, OrganizationIntegration
from tests.factories import make_integration

DEEP_JSON = b'{"display_name": "x", "provider_name": "sandbox_whatsapp", "config": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"


def _nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.django_db
@pytest.mark.parametrize("name,body", [
    ("50k deep body", DEEP_JSON),
    ("config 900 deep", None),
    ("NUL in config", {"label": "a\x00b"}),
    ("lone surrogate in config", b'{"display_name": "x", "provider_name": "sandbox_whatsapp", "config": {"label": "\\ud800"}}'),
    ("NUL in a display name", b'{"display_name": "a\\u0000b", "provider_name": "sandbox_whatsapp"}'),
    ("NUL in a key", {"la\x00bel": "x"}),
    ("huge number", {"latency_ms": 10**400}),
])
def test_odd_integration_bodies_are_400(tenant, name, body):
    api = tenant.api()
    if isinstance(body, bytes):
        response = api.generic("POST", "/api/v1/integrations/", body, content_type="application/json")
    else:
        config = {"label": _nested(900)} if body is None else body
        response = api.post("/api/v1/integrations/", {"provider_name": "sandbox_whatsapp", "display_name": name,
                                                      "config": config}, format="json")

    assert response.status_code == 400, (name, response.status_code, response.content[:200])
    assert response.json()["code"] in ("invalid", "parse_error")


@pytest.mark.django_db
@pytest.mark.parametrize("seconds", ["9" * 900, "-1", "1e999", "nan"])
def test_estimate_with_an_absurd_call_length_is_400(tenant, seconds):
    response = tenant.api().post("/api/v1/analytics/estimate/", {"channel": "voip", "monthly_volume": "100",
                                                                "average_call_seconds": seconds}, format="json")
    assert response.status_code == 400, response.content[:300]


@pytest.mark.django_db
@pytest.mark.parametrize("query", [
    "page_size=-1", "page_size=0", "page_size=99999999999999999999", "page_size=abc", "page=-5", "page=9999999",
    "created_after=0000-00-00", "created_after=9999-12-31T23:59:59%2B99:00", "created_before=-1",
    "created_after=2024-02-30", "created_after=%00",
])
@pytest.mark.parametrize("route", ["/api/v1/audit-events/", "/api/v1/calls/", "/api/v1/messages/"])
def test_lists_never_500_on_odd_queries(tenant, route, query):
    response = tenant.api().get(f"{route}?{query}")
    assert response.status_code in (200, 400, 404), (route, query, response.status_code)


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_with_one_display_name_answer_400_not_500(tenant):
    statuses: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(6)

    def create():
        try:
            start.wait(timeout=10)
            response = tenant.api().post("/api/v1/integrations/", {"provider_name": "sandbox_whatsapp",
                                                                   "display_name": "Same name", "config": {}}, format="json")
            with lock:
                statuses.append(response.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(statuses) == [201] + [400] * 5, statuses
    assert OrganizationIntegration.objects.filter(display_name="Same name").count() == 1


@pytest.mark.django_db
def test_an_idempotency_key_reused_with_another_body_is_422(tenant):
    make_integration(organization=tenant.organization, config={"label": "p"})
    api = tenant.api()
    first = api.post("/api/v1/messages/", {"to": "+14155550101", "body": "first"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    replay = api.post("/api/v1/messages/", {"to": "+14155550101", "body": "first"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    reused = api.post("/api/v1/messages/", {"to": "+14155550101", "body": "second"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert (first.status_code, replay.status_code) == (202, 200)
    assert reused.status_code == 422 and reused.json()["code"] == "idempotency_key_reused"
    assert Message.objects.filter(idempotency_key="k-1").count() == 1


@pytest.fixture
def eager_celery():
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.mark.django_db
def test_eager_send_whose_provider_is_down_answers_202(tenant, eager_celery, settings, django_capture_on_commit_callbacks):
    settings.DELIVERY_MAX_RETRIES = 2
    make_integration(organization=tenant.organization, config={"label": "down", "failure_rate": 1,
                                                               "failure_mode": "unavailable"})

    with django_capture_on_commit_callbacks(execute=True):
        response = tenant.api().post("/api/v1/messages/", {"to": "+14155550101", "body": "hi"}, format="json")

    assert response.status_code == 202, response.content[:300]
    assert Message.objects.filter(pk=response.json()["id"]).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("priority", ["99999999999", "-99999999999"])
def test_admin_priority_out_of_range_is_a_form_error(tenant, priority):
    from django.test import Client

    integration = make_integration(organization=tenant.organization, display_name="Prio", config={"label": "p"})
    client = Client()
    client.force_login(tenant.admin)
    form = {"display_name": "Prio", "priority": priority, "status": integration.status, "config__label": "p"}

    response = client.post(f"/admin/integrations/organizationintegration/{integration.pk}/change/", form)

    assert response.status_code == 200 and "errorlist" in response.content.decode()
    integration.refresh_from_db()
    assert integration.priority != int(priority)
