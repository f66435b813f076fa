"""The v1 endpoints: what they answer, what they change, and the error shape."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from integrations.models import Call, Membership, Message, OrganizationIntegration
from tests.factories import SECRET_API_KEY, make_membership, make_user

from .conftest import SECRET_NEW_KEY, RecordingAPIClient

V1 = "/api/v1"


def test_token_endpoint_returns_a_token_that_authenticates(api_client, tenant_a):
    anonymous = api_client()
    response = anonymous.post(f"{V1}/auth/token/", {"username": "alpha-admin", "password": "pw-Test-12345"}, format="json")
    assert response.status_code == 200
    token = response.json()["token"]
    anonymous.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert anonymous.get(f"{V1}/integrations/").status_code == 200

    wrong = api_client().post(f"{V1}/auth/token/", {"username": "alpha-admin", "password": "nope"}, format="json")
    assert wrong.status_code == 400
    assert wrong.json()["code"] == "invalid"


def test_anonymous_request_is_401_in_the_error_shape(api_client, tenant_a):
    response = api_client().get(f"{V1}/integrations/")
    assert response.status_code == 401
    body = response.json()
    assert set(body) == {"code", "detail", "errors"}
    assert body["code"] == "not_authenticated"


def test_provider_catalog_lists_fields_with_secret_flags(api_client, tenant_a):
    client = api_client(tenant_a.admin)
    response = client.get(f"{V1}/providers/", {"channel": "voip"})
    assert response.status_code == 200
    providers = response.json()["results"]
    assert providers and {p["channel"] for p in providers} == {"voip"}
    sandbox = next(p for p in providers if p["name"] == "sandbox_voip")
    assert {"name", "channel", "display_name", "official", "stability", "pricing", "config_fields"} <= set(sandbox)
    api_key = next(f for f in sandbox["config_fields"] if f["name"] == "api_key")
    assert api_key["secret"] is True
    assert client.get(f"{V1}/providers/sandbox_voip/").json()["name"] == "sandbox_voip"
    assert client.get(f"{V1}/providers/", {"channel": "fax"}).status_code == 400


def test_integration_list_filters_and_masks_credentials(api_client, tenant_a):
    client = api_client(tenant_a.admin)
    body = client.get(f"{V1}/integrations/", {"channel": "whatsapp"}).json()
    assert body["count"] == 2
    ids = [row["id"] for row in body["results"]]
    assert ids == [str(tenant_a.whatsapp_primary.pk), str(tenant_a.whatsapp_fallback.pk)]
    first = body["results"][0]
    assert first["credentials"] == {"api_key": "••••" + SECRET_API_KEY[-4:]}
    assert set(first["health"]) == {"status", "checked_at", "latency_ms", "detail"}
    assert first["webhook_url"].endswith(f"/{tenant_a.whatsapp_primary.pk}/")
    primaries = client.get(f"{V1}/integrations/", {"is_primary": "true"}).json()["results"]
    assert {row["id"] for row in primaries} == {str(tenant_a.whatsapp_primary.pk), str(tenant_a.voip_primary.pk)}


def test_create_update_and_delete_an_integration(api_client, tenant_a):
    client = api_client(tenant_a.admin)
    created = client.post(
        f"{V1}/integrations/",
        {"provider_name": "sandbox_whatsapp", "display_name": "Third", "config": {"label": "third"},
         "credentials": {"api_key": SECRET_NEW_KEY}},
        format="json",
    )
    assert created.status_code == 201, created.json()
    row = created.json()
    assert row["status"] == "pending" and row["is_primary"] is False
    assert row["credentials"] == {"api_key": "••••" + SECRET_NEW_KEY[-4:]}
    stored = OrganizationIntegration.objects.get(pk=row["id"])
    assert stored.organization == tenant_a.organization and stored.credentials == {"api_key": SECRET_NEW_KEY}

    updated = client.patch(f"{V1}/integrations/{row['id']}/", {"display_name": "Third renamed", "priority": 5,
                                                               "credentials": {"api_key": ""}}, format="json")
    assert updated.status_code == 200
    stored.refresh_from_db()
    assert (stored.display_name, stored.priority, stored.credentials) == ("Third renamed", 5, {"api_key": SECRET_NEW_KEY})

    assert client.delete(f"{V1}/integrations/{row['id']}/").status_code == 204
    assert not OrganizationIntegration.objects.filter(pk=row["id"]).exists()
    # The trail of all this is readable and, like every response here, scanned for the secret.
    actions = [event["action"] for event in client.get(f"{V1}/audit-events/", {"target": row["id"]}).json()["results"]]
    assert actions == ["integration.deleted", "integration.updated", "integration.created"]


def test_create_validates_through_the_provider(api_client, tenant_a):
    client = api_client(tenant_a.admin)
    response = client.post(
        f"{V1}/integrations/",
        {"provider_name": "sandbox_whatsapp", "display_name": "Bad", "config": {"failure_rate": "7"}},
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and "failure_rate" in body["errors"]
    unknown = client.post(f"{V1}/integrations/", {"provider_name": "nope", "display_name": "X"}, format="json")
    assert unknown.status_code == 400 and "provider_name" in unknown.json()["errors"]


def test_deleting_the_primary_is_refused_unless_promoting(api_client, tenant_a):
    client = api_client(tenant_a.admin)
    url = f"{V1}/integrations/{tenant_a.whatsapp_primary.pk}/"
    refused = client.delete(url)
    assert refused.status_code == 409 and refused.json()["code"] == "is_primary"
    assert client.delete(url + "?promote_next=true&reason=retired").status_code == 204
    tenant_a.whatsapp_fallback.refresh_from_db()
    assert tenant_a.whatsapp_fallback.is_primary


def test_test_connection_reports_health(api_client, tenant_a):
    client = api_client(tenant_a.admin)
    response = client.post(f"{V1}/integrations/{tenant_a.whatsapp_fallback.pk}/test/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy" and body["integration"]["health"]["status"] == "healthy"


def test_make_primary_switches_and_returns_the_audit_event(api_client, tenant_a):
    client = api_client(tenant_a.admin)
    response = client.post(f"{V1}/integrations/{tenant_a.whatsapp_fallback.pk}/make-primary/", {"reason": "cheaper"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["previous"]["id"] == str(tenant_a.whatsapp_primary.pk)
    assert body["current"]["id"] == str(tenant_a.whatsapp_fallback.pk)
    event = AuditEvent.objects.get(pk=body["audit_event"])
    assert event.action == "provider.switched" and event.reason == "cheaper"
    assert body["switched_at"]
    again = client.post(f"{V1}/integrations/{tenant_a.whatsapp_fallback.pk}/make-primary/", {}, format="json")
    assert again.status_code == 200 and again.json()["switched"] is False


def test_make_primary_refuses_an_unusable_target(api_client, tenant_a):
    client = api_client(tenant_a.admin)
    OrganizationIntegration.objects.filter(pk=tenant_a.whatsapp_fallback.pk).update(status="inactive")
    response = client.post(f"{V1}/integrations/{tenant_a.whatsapp_fallback.pk}/make-primary/", {}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "target_unusable"
    tenant_a.whatsapp_primary.refresh_from_db()
    assert tenant_a.whatsapp_primary.is_primary


def test_reorder_sets_priorities(api_client, tenant_a):
    client = api_client(tenant_a.admin)
    ids = [str(tenant_a.whatsapp_fallback.pk), str(tenant_a.whatsapp_primary.pk)]
    response = client.post(f"{V1}/integrations/reorder/", {"channel": "whatsapp", "ordered_ids": ids}, format="json")
    assert response.status_code == 200
    tenant_a.whatsapp_fallback.refresh_from_db()
    tenant_a.whatsapp_primary.refresh_from_db()
    assert tenant_a.whatsapp_fallback.priority > tenant_a.whatsapp_primary.priority
    incomplete = client.post(f"{V1}/integrations/reorder/", {"channel": "whatsapp", "ordered_ids": ids[:1]}, format="json")
    assert incomplete.status_code == 400 and "ordered_ids" in incomplete.json()["errors"]


def test_channel_overview_and_switch(api_client, tenant_a):
    client = api_client(tenant_a.admin)
    overview = client.get(f"{V1}/channels/whatsapp/").json()
    assert overview["primary"]["id"] == str(tenant_a.whatsapp_primary.pk)
    assert [row["id"] for row in overview["fallbacks"]] == [str(tenant_a.whatsapp_fallback.pk)]
    assert overview["status"] == "ok"
    switched = client.post(
        f"{V1}/channels/whatsapp/switch/", {"integration_id": str(tenant_a.whatsapp_fallback.pk), "reason": "test"},
        format="json",
    )
    assert switched.status_code == 200 and switched.json()["current"]["id"] == str(tenant_a.whatsapp_fallback.pk)
    assert client.get(f"{V1}/channels/fax/").status_code == 404
    assert len(client.get(f"{V1}/channels/").json()) == 2


def test_send_message_is_accepted_and_idempotent(api_client, tenant_a, django_capture_on_commit_callbacks):
    client = api_client(tenant_a.admin)
    payload = {"channel": "whatsapp", "to": "+14155550123", "body": "Hi", "reference": "lead-7"}
    first = client.post(f"{V1}/messages/", payload, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 202
    body = first.json()
    assert body["status"] == "queued" and body["reference"] == "lead-7"
    replay = client.post(f"{V1}/messages/", payload, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert replay.status_code == 200 and replay.json()["id"] == body["id"]
    assert Message.objects.for_org(tenant_a.organization).filter(idempotency_key="k-1").count() == 1
    detail = client.get(f"{V1}/messages/{body['id']}/").json()
    assert {"status", "integration", "provider_message_id", "cost", "attempts"} <= set(detail)
    listed = client.get(f"{V1}/messages/", {"reference": "lead-7"}).json()
    assert [row["id"] for row in listed["results"]] == [body["id"]]
    bad = client.post(f"{V1}/messages/", {"channel": "whatsapp", "to": "not a phone", "body": "x"}, format="json")
    assert bad.status_code == 400 and "to" in bad.json()["errors"]


def test_place_call_is_accepted(api_client, tenant_a):
    client = api_client(tenant_a.admin)
    response = client.post(f"{V1}/calls/", {"to": "+14155550199"}, format="json")
    assert response.status_code == 202
    call_id = response.json()["id"]
    assert Call.objects.for_org(tenant_a.organization).filter(pk=call_id, status="queued").exists()
    assert client.get(f"{V1}/calls/{call_id}/").json()["to"] == "+14155550199"


def test_audit_events_filter_by_action_target_and_dates(api_client, tenant_a):
    client = api_client(tenant_a.admin)
    client.post(f"{V1}/integrations/{tenant_a.whatsapp_fallback.pk}/make-primary/", {"reason": "r"}, format="json")
    switched = client.get(f"{V1}/audit-events/", {"action": "provider.switched"}).json()
    assert switched["count"] == 1 and switched["results"][0]["actor"] == "user:alpha-admin"
    by_target = client.get(f"{V1}/audit-events/", {"target": str(tenant_a.voip_primary.pk)}).json()
    assert by_target["count"] >= 1 and all(r["target_id"] == str(tenant_a.voip_primary.pk) for r in by_target["results"])
    assert client.get(f"{V1}/audit-events/", {"created_before": "2000-01-01T00:00:00Z"}).json()["count"] == 0
    assert client.get(f"{V1}/audit-events/", {"actor": "user:alpha-admin", "created_after": "2000-01-01T00:00:00Z"}).json()["count"] >= 1
    event_id = switched["results"][0]["id"]
    assert client.get(f"{V1}/audit-events/{event_id}/").status_code == 200
    assert client.delete(f"{V1}/audit-events/{event_id}/").status_code == 405


@pytest.mark.parametrize("params,expected", [
    # ISO 8601 allows offsets PostgreSQL refuses (beyond ±15:59): compared in UTC instead.
    ({"created_before": "4096-06-30T22:27:16.6+23:24"}, 1),
    ({"created_after": "0363-01-07T13:34:39+15:40", "created_before": "4096-06-30T22:27:16+23:59"}, 1),
    ({"created_before": "2000-01-01T00:00:00-23:59"}, 0),
    # Bounds that leave the representable range once in UTC.
    ({"created_before": "9999-12-31T23:59:59-05:00"}, 1),
    ({"created_after": "9999-12-31T23:59:59-05:00"}, 0),
    ({"created_after": "0001-01-01T00:00:00+05:00"}, 1),
    ({"created_before": "0001-01-01T00:00:00+05:00"}, 0),
])
def test_date_filters_accept_any_iso_offset(api_client, tenant_a, params, expected):
    client = api_client(tenant_a.admin)
    assert client.post(f"{V1}/messages/", {"channel": "whatsapp", "to": "+14155550100", "body": "x"}, format="json").status_code == 202
    for resource in ("messages", "audit-events"):
        response = client.get(f"{V1}/{resource}/", params)
        assert response.status_code == 200, response.content
        assert (response.json()["count"] >= 1) == bool(expected), (resource, params)


def test_lists_are_paginated(api_client, tenant_a):
    body = api_client(tenant_a.admin).get(f"{V1}/integrations/", {"page_size": 1}).json()
    assert body["count"] == 3 and len(body["results"]) == 1 and body["next"]


def test_org_header_rules(api_client, tenant_a, tenant_b):
    both = make_user(username="both", staff=False)
    make_membership(user=both, organization=tenant_a.organization, role=Membership.Role.VIEWER)
    make_membership(user=both, organization=tenant_b.organization, role=Membership.Role.VIEWER)
    missing = api_client(both).get(f"{V1}/integrations/")
    assert missing.status_code == 400 and missing.json()["code"] == "organization_required"
    by_slug = api_client(both, org="bravo").get(f"{V1}/integrations/").json()
    assert {row["id"] for row in by_slug["results"]} == {
        str(tenant_b.whatsapp_primary.pk), str(tenant_b.whatsapp_fallback.pk), str(tenant_b.voip_primary.pk)
    }
    by_id = api_client(both, org=str(tenant_a.organization.pk)).get(f"{V1}/integrations/")
    assert by_id.json()["count"] == 3
    stranger = make_user(username="stranger", staff=False)
    assert api_client(stranger).get(f"{V1}/integrations/").status_code == 403
    assert api_client(stranger, org="no-such-org").get(f"{V1}/integrations/").json()["code"] == "not_a_member"


def test_session_authentication_requires_csrf_for_writes(recorded_responses, tenant_a):
    client = RecordingAPIClient(log=recorded_responses, enforce_csrf_checks=True)
    assert client.login(username="alpha-admin", password="pw-Test-12345")
    assert client.get(f"{V1}/integrations/").status_code == 200
    refused = client.post(f"{V1}/calls/", {"to": "+14155550199"}, format="json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    client.get("/admin/login/")  # a page with a form sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    accepted = client.post(f"{V1}/calls/", {"to": "+14155550199"}, format="json", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 202
