"""/api/v1/templates/ and template sends through /api/v1/messages/."""

from __future__ import annotations

import pytest

from integrations.models import Message, MessageTemplate
from integrations.services.delivery import dispatch
from providers import sandbox

V1 = "/api/v1"
pytestmark = pytest.mark.django_db


def test_create_list_update_and_delete_a_template(api_client, tenant_a):
    client = api_client(tenant_a.admin)
    created = client.post(f"{V1}/templates/", {
        "name": "order_update", "language": "pt_BR", "category": "utility", "body": "Olá {{1}}",
        "header": {"format": "text", "text": "Pedido"}, "buttons": [{"kind": "quick_reply", "text": "Rastrear"}],
    }, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["header"] == {"format": "text", "text": "Pedido"} and body["mappings"] == []
    assert body["buttons"][0]["text"] == "Rastrear"

    listed = client.get(f"{V1}/templates/").json()
    assert {t["name"] for t in listed["results"]} == {"order_update", "alpha_update"}
    alpha = next(t for t in listed["results"] if t["name"] == "alpha_update")
    assert alpha["mappings"][0]["status"] == "approved"
    assert alpha["mappings"][0]["integration"] == str(tenant_a.whatsapp_primary.pk)

    changed = client.patch(f"{V1}/templates/{body['id']}/", {"category": "marketing"}, format="json")
    assert changed.status_code == 200 and changed.json()["category"] == "marketing"
    duplicate = client.post(f"{V1}/templates/", {"name": "order_update", "language": "pt_BR", "category": "utility",
                                                  "body": "x"}, format="json")
    assert duplicate.status_code == 400 and duplicate.json()["errors"]["name"]
    assert client.delete(f"{V1}/templates/{body['id']}/").status_code == 204
    assert not MessageTemplate.objects.filter(pk=body["id"]).exists()


def test_map_unmap_and_import(api_client, tenant_a):
    client = api_client(tenant_a.admin)
    url = f"{V1}/templates/{tenant_a.template.pk}"
    mapped = client.post(f"{url}/map/", {"integration": str(tenant_a.whatsapp_fallback.pk), "status": "pending",
                                         "provider_template_id": "HX0123"}, format="json")
    assert mapped.status_code == 200
    statuses = {m["integration"]: m["status"] for m in mapped.json()["mappings"]}
    assert statuses == {str(tenant_a.whatsapp_primary.pk): "approved", str(tenant_a.whatsapp_fallback.pk): "pending"}
    unmapped = client.post(f"{url}/unmap/", {"integration": str(tenant_a.whatsapp_primary.pk)}, format="json")
    assert [m["status"] for m in unmapped.json()["mappings"]] == ["pending"]
    voip = client.post(f"{url}/map/", {"integration": str(tenant_a.voip_primary.pk)}, format="json")
    assert voip.status_code == 400 and voip.json()["errors"]["integration"]

    imported = client.post(f"{V1}/templates/import/", {"integration": str(tenant_a.whatsapp_primary.pk)}, format="json")
    assert imported.json() == {"read": 3, "created_templates": 3, "mappings": 3, "approved": 3}
    refused = client.post(f"{V1}/templates/import/", {"integration": str(tenant_a.voip_primary.pk)}, format="json")
    assert refused.status_code == 409 and refused.json()["code"] == "unsupported"


def test_send_a_template_through_the_messages_api(api_client, tenant_a, django_capture_on_commit_callbacks):
    client = api_client(tenant_a.admin)
    payload = {"channel": "whatsapp", "to": "+14155550100",
               "template": {"name": "alpha_update", "language": "en_US", "variables": {"1": "Ana"}}}
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(f"{V1}/messages/", payload, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["body"] == "Hello Ana" and body["category"] == "utility"
    assert body["template"] == str(tenant_a.template.pk) and body["template_variables"] == {"1": "Ana"}

    dispatch.deliver_message(message_id=body["id"])
    assert sandbox.outbox[-1]["template"]["name"] == "alpha_update"
    assert Message.objects.get(pk=body["id"]).integration_id == tenant_a.whatsapp_primary.pk

    missing = client.post(f"{V1}/messages/", {**payload, "template": {"name": "alpha_update", "language": "en_US"}}, format="json")
    assert missing.status_code == 400 and "Missing template variable" in missing.json()["errors"]["template"][0]
    unknown = client.post(f"{V1}/messages/", {**payload, "template": {"name": "nope", "language": "en_US"}}, format="json")
    assert unknown.status_code == 400


def test_a_batch_item_may_be_a_template(api_client, tenant_a):
    client = api_client(tenant_a.admin)
    template = {"name": "alpha_update", "language": "en_US", "variables": {"1": "Bo"}}
    response = client.post(f"{V1}/messages/batch/", {"messages": [
        {"to": "+14155550100", "template": template},
        {"to": "+14155550101", "template": {**template, "variables": {}}},
    ]}, format="json")
    assert response.status_code == 202, response.content
    first, second = response.json()["results"]
    assert first["result"] == "accepted" and Message.objects.get(pk=first["id"]).body == "Hello Bo"
    assert second["result"] == "invalid" and "template" in second["errors"]
