"""The channel policy endpoint: read with carried shares, replace, roles, tenancy, errors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from integrations.models import Membership, Message

pytestmark = pytest.mark.django_db

URL = "/api/v1/channels/whatsapp/policy/"


def test_a_channel_without_a_policy_reads_as_primary(api_client, tenant_a):
    Message.objects.filter(pk=tenant_a.message.pk).update(sent_at=timezone.now())
    Message.objects.create(organization=tenant_a.organization, channel="whatsapp", to="+14155550109", body="old",
                           integration=tenant_a.whatsapp_fallback, status=Message.Status.SENT,
                           sent_at=timezone.now() - timedelta(hours=2))
    response = api_client(user=tenant_a.admin).get(URL)
    assert response.status_code == 200
    body = response.json()
    assert (body["mode"], body["weights"], body["rules"], body["version"]) == ("primary", {}, [], 0)
    carried = {row["integration_id"]: row for row in body["carried_last_hour"]["integrations"]}
    # The message sent a minute ago counts; the one sent two hours ago does not.
    assert carried[str(tenant_a.whatsapp_primary.pk)]["share"] == 100.0
    assert carried[str(tenant_a.whatsapp_fallback.pk)]["sent"] == 0
    assert body["carried_last_hour"]["total"] == 1


def test_put_a_split_then_back_to_primary(api_client, tenant_a):
    client = api_client(user=tenant_a.admin)
    weights = {str(tenant_a.whatsapp_primary.pk): 80, str(tenant_a.whatsapp_fallback.pk): 20}
    response = client.put(URL, {"mode": "split", "weights": weights, "reason": "trial",
                                "rules": [{"tag": "internal", "integration_id": str(tenant_a.whatsapp_fallback.pk)}]},
                          format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["mode"] == "split" and body["weights"] == weights and body["version"] == 1
    assert {r["integration_id"]: r["weight"] for r in body["carried_last_hour"]["integrations"]} == weights
    event = AuditEvent.objects.get(action="policy.changed")
    assert event.reason == "trial" and event.actor_user == tenant_a.admin
    response = client.put(URL, {"mode": "primary"}, format="json")
    assert response.json()["mode"] == "primary" and response.json()["weights"] == {}


@pytest.mark.parametrize("payload, field", [
    (lambda t: {"mode": "split", "weights": {}}, "weights"),
    (lambda t: {"mode": "split", "weights": {str(t.whatsapp_primary.pk): 101}}, "weights"),
    (lambda t: {"mode": "split", "weights": {str(t.whatsapp_primary.pk): 50}}, "weights"),
    (lambda t: {"mode": "sometimes"}, "mode"),
    (lambda t: {"mode": "primary", "rules": [{"tag": "bad tag", "integration_id": str(t.whatsapp_primary.pk)}]}, "rules"),
])
def test_bad_policies_answer_400_with_the_field(api_client, tenant_a, payload, field):
    response = api_client(user=tenant_a.admin).put(URL, payload(tenant_a), format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not AuditEvent.objects.filter(action="policy.changed").exists()


def test_another_tenants_integration_cannot_be_weighted(api_client, tenant_a, tenant_b):
    weights = {str(tenant_a.whatsapp_primary.pk): 50, str(tenant_b.whatsapp_primary.pk): 50}
    response = api_client(user=tenant_a.admin).put(URL, {"mode": "split", "weights": weights}, format="json")
    # As everywhere in the API: another tenant's id is not found, its existence not confirmed.
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    unknown = {"mode": "primary", "rules": [{"tag": "x", "integration_id": "00000000-0000-0000-0000-000000000000"}]}
    assert api_client(user=tenant_a.admin).put(URL, unknown, format="json").status_code == 404


def test_viewers_read_but_cannot_write_and_unknown_channels_are_404(api_client, tenant_a):
    viewer = api_client(user=tenant_a.user(Membership.Role.VIEWER))
    assert viewer.get(URL).status_code == 200
    assert viewer.put(URL, {"mode": "primary"}, format="json").status_code == 403
    assert api_client(user=tenant_a.admin).get("/api/v1/channels/fax/policy/").status_code == 404
    assert api_client().get(URL).status_code == 401


def test_messages_carry_tags_single_and_in_a_batch(api_client, tenant_a):
    client = api_client(user=tenant_a.admin)
    response = client.post("/api/v1/messages/", {"to": "+14155550177", "body": "x", "tags": ["internal"]}, format="json")
    assert response.status_code == 202 and response.json()["tags"] == ["internal"]
    response = client.post("/api/v1/messages/batch/", {"messages": [
        {"to": "+14155550178", "body": "a", "tags": ["vip"]},
        {"to": "+14155550179", "body": "b", "tags": ["two words"]},
    ]}, format="json")
    results = response.json()["results"]
    assert [r["result"] for r in results] == ["accepted", "invalid"] and "tags" in results[1]["errors"]
    assert Message.objects.get(pk=results[0]["id"]).tags == ["vip"]


def test_schedule_list_and_cancel_a_switch(api_client, tenant_a):
    client = api_client(user=tenant_a.admin)
    url = "/api/v1/channels/whatsapp/scheduled-switches/"
    at = (timezone.now() + timedelta(hours=2)).isoformat()
    response = client.post(url, {"integration_id": str(tenant_a.whatsapp_fallback.pk), "at": at, "reason": "night"}, format="json")
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["status"] == "pending" and created["target"] == str(tenant_a.whatsapp_fallback.pk)
    listed = client.get(url).json()
    assert [row["id"] for row in listed["results"]] == [created["id"]]
    response = client.post(f"{url}{created['id']}/cancel/", {"reason": "no"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    again = client.post(f"{url}{created['id']}/cancel/", {}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "not_pending"
    past = client.post(url, {"integration_id": str(tenant_a.whatsapp_fallback.pk), "at": "2020-01-01T00:00:00Z"}, format="json")
    assert past.status_code == 409 and past.json()["code"] == "time_in_the_past"
    viewer = api_client(user=tenant_a.user(Membership.Role.VIEWER))
    assert viewer.get(url).status_code == 200
    assert viewer.post(url, {"integration_id": str(tenant_a.whatsapp_fallback.pk), "at": at}, format="json").status_code == 403


def test_start_watch_and_cancel_a_rollout(api_client, tenant_a):
    client = api_client(user=tenant_a.admin)
    url = "/api/v1/channels/whatsapp/rollouts/"
    body = {"integration_id": str(tenant_a.whatsapp_fallback.pk), "steps": [10, 50, 100], "step_seconds": 300,
            "max_failure_rate": 0.05, "reason": "move"}
    response = client.post(url, body, format="json")
    assert response.status_code == 201, response.json()
    rollout = response.json()
    assert (rollout["status"], rollout["share"], rollout["step_index"]) == ("running", 10, 0)
    assert rollout["current_step"] == {"attempts": 0, "failures": 0, "failure_rate": 0.0, "receipts_judged": None,
                                       "receipts_missing": None} and rollout["next_step_at"]
    assert client.get(f"{url}{rollout['id']}/").json()["id"] == rollout["id"]
    assert [r["id"] for r in client.get(url).json()["results"]] == [rollout["id"]]
    policy = client.get(URL).json()
    assert policy["weights"] == {str(tenant_a.whatsapp_primary.pk): 90, str(tenant_a.whatsapp_fallback.pk): 10}
    refused = client.put(URL, {"mode": "primary"}, format="json")
    assert refused.status_code == 409 and refused.json()["code"] == "rollout_running"
    assert client.post(url, body, format="json").json()["code"] == "rollout_running"
    cancelled = client.post(f"{url}{rollout['id']}/cancel/", {"reason": "later"}, format="json").json()
    assert cancelled["status"] == "cancelled" and cancelled["share"] == 0 and cancelled["current_step"] is None
    assert client.get(URL).json()["mode"] == "primary"
    bad = client.post(url, {**body, "steps": [50, 10]}, format="json")
    assert bad.status_code == 400 and "steps" in bad.json()["errors"]
    viewer = api_client(user=tenant_a.user(Membership.Role.VIEWER))
    assert viewer.get(url).status_code == 200 and viewer.post(url, body, format="json").status_code == 403


def test_set_list_and_remove_a_spend_cap(api_client, tenant_a):
    client = api_client(user=tenant_a.admin)
    url = f"/api/v1/channels/whatsapp/spend-caps/{tenant_a.whatsapp_primary.pk}/"
    response = client.put(url, {"monthly_budget": "25.50", "currency": "usd", "reason": "cap"}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["monthly_budget"], body["currency"], body["percent"], body["reached"]) == ("25.500000", "USD", 0.0, False)
    listed = client.get("/api/v1/channels/whatsapp/spend-caps/").json()
    assert [row["integration_id"] for row in listed] == [str(tenant_a.whatsapp_primary.pk)]
    assert client.get("/api/v1/channels/voip/spend-caps/").json() == []
    bad = client.put(url, {"monthly_budget": "0", "currency": "USD"}, format="json")
    assert bad.status_code == 400 and "monthly_budget" in bad.json()["errors"]
    assert client.delete(url).status_code == 204
    assert client.delete(url).status_code == 404
    viewer = api_client(user=tenant_a.user(Membership.Role.VIEWER))
    assert viewer.put(url, {"monthly_budget": "1", "currency": "USD"}, format="json").status_code == 403


def test_failure_actions_through_the_api(api_client, tenant_a):
    client = api_client(user=tenant_a.admin)
    response = client.put(URL, {"mode": "primary", "failure_actions": {"131047": "stop", "sandbox_503": "retry"}}, format="json")
    assert response.status_code == 200 and response.json()["failure_actions"] == {"131047": "stop", "sandbox_503": "retry"}
    bad = client.put(URL, {"mode": "primary", "failure_actions": {"x": "panic"}}, format="json")
    assert bad.status_code == 400 and "failure_actions" in bad.json()["errors"]
