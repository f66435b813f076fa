"""Who may write, and how fast."""

from __future__ import annotations

import pytest
from django.urls import reverse

from integrations.models import Membership, Message

from .test_isolation import CASES, ENDPOINTS, MUTATING, call, snapshot

# Writes every member may make: the token exchange, and the cost calculator (a POST that changes nothing).
OPEN_TO_EVERY_ROLE = {("api:auth-token", "POST"), ("api:analytics:estimate", "POST")}
WRITES = [endpoint for endpoint in ENDPOINTS if endpoint[1] in MUTATING and endpoint not in OPEN_TO_EVERY_ROLE]
READS = [endpoint for endpoint in ENDPOINTS if endpoint[1] == "GET" and CASES[endpoint].kind != "public"]


def test_there_are_writes_to_check():
    assert len(WRITES) >= 12


@pytest.mark.parametrize("role", [Membership.Role.VIEWER, Membership.Role.MEMBER])
@pytest.mark.parametrize("endpoint", WRITES, ids=lambda e: f"{e[1]} {e[0]}")
def test_viewers_and_members_cannot_write(endpoint, role, api_client, tenant_a):
    case = CASES[endpoint]
    client = api_client(tenant_a.user(role))
    before = snapshot(tenant_a)
    response = call(client, endpoint[1], reverse(endpoint[0], kwargs=case.kwargs(tenant_a)), case.body(tenant_a))
    assert response.status_code == 403, (endpoint, response.content[:300])
    assert response.json()["code"] == "role_required"
    assert snapshot(tenant_a) == before


@pytest.mark.parametrize("role", [Membership.Role.ADMIN, Membership.Role.OWNER])
@pytest.mark.parametrize("endpoint", WRITES, ids=lambda e: f"{e[1]} {e[0]}")
def test_admins_and_owners_can_write(endpoint, role, api_client, tenant_a):
    case = CASES[endpoint]
    client = api_client(tenant_a.user(role))
    response = call(client, endpoint[1], reverse(endpoint[0], kwargs=case.kwargs(tenant_a)), case.body(tenant_a))
    assert response.status_code in (200, 201, 202, 204), (endpoint, response.content[:300])


@pytest.mark.parametrize("endpoint", READS, ids=lambda e: f"{e[1]} {e[0]}")
def test_viewers_can_read(endpoint, api_client, tenant_a):
    case = CASES[endpoint]
    client = api_client(tenant_a.user(Membership.Role.VIEWER))
    response = client.get(reverse(endpoint[0], kwargs=case.kwargs(tenant_a)))
    assert response.status_code == 200, (endpoint, response.content[:300])


def _send(client, n: int):
    return client.post("/api/v1/messages/", {"channel": "whatsapp", "to": "+14155550100", "body": f"m{n}"}, format="json")


def _configure(client, tenant, n: int):
    """A configuration write: renaming an integration."""
    return client.patch(f"/api/v1/integrations/{tenant.whatsapp_primary.pk}/", {"display_name": f"wa {n}"}, format="json")


def test_configuration_writes_are_throttled_per_user_with_retry_after(api_client, tenant_a, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                               "DEFAULT_THROTTLE_RATES": {"user_write": "2/min", "org_write": "1000/min"}}
    client = api_client(tenant_a.admin)
    assert [_configure(client, tenant_a, n).status_code for n in range(2)] == [200, 200]
    throttled = _configure(client, tenant_a, 3)
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "throttled"
    assert 0 < int(throttled["Retry-After"]) <= 60
    tenant_a.whatsapp_primary.refresh_from_db()
    assert tenant_a.whatsapp_primary.display_name == "wa 1"
    # Reads are not throttled.
    assert all(client.get("/api/v1/messages/").status_code == 200 for _ in range(5))


def test_configuration_writes_are_throttled_per_organization(api_client, tenant_a, tenant_b, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                               "DEFAULT_THROTTLE_RATES": {"user_write": "1000/min", "org_write": "3/min"}}
    first, second = api_client(tenant_a.admin), api_client(tenant_a.user(Membership.Role.OWNER))
    statuses = [_configure(client, tenant_a, n).status_code for n, client in enumerate([first, second, first, second])]
    assert statuses == [200, 200, 200, 429]
    # Another organization has its own budget.
    assert _configure(api_client(tenant_b.admin), tenant_b, 9).status_code == 200


def test_message_sends_have_their_own_rate_not_the_configuration_throttle(api_client, tenant_a, tenant_b, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        "user_write": "2/min", "org_write": "2/min", "message_send": "5/min"}}
    client = api_client(tenant_a.admin)
    # Well past the configuration writes' budget: sends are counted on their own.
    assert [_send(client, n).status_code for n in range(5)] == [202] * 5
    throttled = _send(client, 5)
    assert throttled.status_code == 429 and 0 < int(throttled["Retry-After"]) <= 60
    assert Message.objects.for_org(tenant_a.organization).filter(body="m5").count() == 0
    # The configuration budget is untouched by the sends, and another organization sends on.
    assert _configure(client, tenant_a, 1).status_code == 200
    assert _send(api_client(tenant_b.admin), 9).status_code == 202
