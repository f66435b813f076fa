"""The service window through the API: 422 outside it, batch items, the windows list and the
fallback template action."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.models import ServiceWindow
from integrations.services.integrations import integration_update
from tests.factories import make_integration

V1 = "/api/v1"
CONTACT = "+5511987654321"
pytestmark = pytest.mark.django_db


@pytest.fixture
def official_only(tenant_a):
    """Alpha's channel carried by Meta alone (its sandbox integrations switched off)."""
    meta = make_integration(organization=tenant_a.organization, provider_name="meta_cloud", config={"phone_number_id": "1"},
                            credentials={"access_token": "t" * 12, "app_secret": "s" * 12})
    from integrations.services.switching import switch_primary

    switch_primary(organization=tenant_a.organization, channel="whatsapp", target=meta, actor="system:test")
    for integration in (tenant_a.whatsapp_primary, tenant_a.whatsapp_fallback):
        integration.refresh_from_db()
        integration_update(integration=integration, actor="system:test", status="inactive")
    return meta


def test_free_text_outside_the_window_is_422(api_client, tenant_a, official_only):
    client = api_client(tenant_a.admin)
    response = client.post(f"{V1}/messages/", {"to": CONTACT, "body": "hi"}, format="json")
    assert response.status_code == 422, response.content
    assert response.json()["code"] == "outside_service_window"

    batch = client.post(f"{V1}/messages/batch/", {"messages": [
        {"to": CONTACT, "body": "hi"},
        {"to": CONTACT, "template": {"name": "alpha_update", "language": "en_US", "variables": {"1": "Ana"}}},
    ]}, format="json")
    first, second = batch.json()["results"]
    assert first["result"] == "invalid" and "24 hours" in first["errors"]["to"][0]
    assert second["result"] == "accepted"

    ServiceWindow.objects.create(organization=tenant_a.organization, contact=CONTACT, last_inbound_at=timezone.now())
    assert client.post(f"{V1}/messages/", {"to": CONTACT, "body": "hi"}, format="json").status_code == 202


def test_the_windows_list_says_which_are_open(api_client, tenant_a):
    now = timezone.now()
    ServiceWindow.objects.create(organization=tenant_a.organization, contact=CONTACT, last_inbound_at=now - timedelta(hours=2))
    ServiceWindow.objects.create(organization=tenant_a.organization, contact="+5511900000000",
                                 last_inbound_at=now - timedelta(hours=30))
    client = api_client(tenant_a.user("viewer"))
    listed = client.get(f"{V1}/service-windows/").json()["results"]
    assert [(w["contact"], w["open"]) for w in listed] == [(CONTACT, True), ("+5511900000000", False)]
    assert [w["contact"] for w in client.get(f"{V1}/service-windows/", {"open": "false"}).json()["results"]] == ["+5511900000000"]
    assert client.get(f"{V1}/service-windows/", {"contact": CONTACT}).json()["results"][0]["expires_at"]


def test_the_window_fallback_action(api_client, tenant_a, official_only):
    client = api_client(tenant_a.admin)
    url = f"{V1}/templates/{tenant_a.template.pk}/window-fallback/"
    assert client.post(url, {"enabled": True}, format="json").json()["window_fallback"] is True
    sent = client.post(f"{V1}/messages/", {"to": CONTACT, "body": "your order"}, format="json")
    assert sent.status_code == 202 and sent.json()["body"] == "Hello your order"
    assert sent.json()["template"] == str(tenant_a.template.pk)
    assert client.post(url, {"enabled": False}, format="json").json()["window_fallback"] is False
    assert client.post(f"{V1}/messages/", {"to": CONTACT, "body": "x"}, format="json").status_code == 422
