"""Findings 1, 9 and 13 (and the timeouts of 3): what an org admin can do with stored credentials.

1. PATCHing only ``config.base_url`` to an address the admin controls, then "Test connection",
   sent the stored token there and echoed what the address answered. Now a change of any field
   that decides where requests go needs every secret in the same request (400
   ``credentials_required``, nothing written), on the API, the legacy route and the admin alike
   (one service path); and a provider's answer is never echoed.
9. Sending the masked hint back (``"••••4321"``) replaced the stored secret with the hint on
   ``PATCH /api/v1/integrations/<id>/``.
13. Secret-named keys (``api_key``…) were accepted in ``config`` and returned in clear.
3. Timeouts accepted -1, 0, "nan", "inf", 1e300, 1000000.
"""

from __future__ import annotations

import pytest
from django.test import Client

from integrations.models import OrganizationIntegration
from tests.factories import make_integration
from tests.providers.loopback import LoopbackServer, Reply

PHONE_ID = "1234567890"
HEALTH_PATH = f"/v21.0/{PHONE_ID}"
STORED_TOKEN = "EAAG-stored-token-0123456789"
STORED_APP_SECRET = "app-secret-stored-0123456789"
INTERNAL_PAGE = "INTERNAL-ADMIN-PAGE root:x:0:0"


@pytest.fixture
def provider():
    server = LoopbackServer().start()
    server.route("GET", HEALTH_PATH, Reply(status=200, json={"health_status": {"can_send_message": "AVAILABLE"}}))
    yield server
    server.stop()


@pytest.fixture
def attacker():
    """The admin's own address (standing in for an internal one): records what reaches it and
    answers with a page the admin wants to read. The egress guard refuses internal addresses
    (tests/providers/test_egress.py); here it shows that a raw body is never echoed."""
    server = LoopbackServer().start()
    server.route("GET", HEALTH_PATH, Reply(status=401, body=f"<html><pre>{INTERNAL_PAGE}</pre></html>".encode(),
                                           headers={"Content-Type": "text/html"}))
    yield server
    server.stop()


@pytest.fixture
def meta(tenant, provider):
    return make_integration(
        organization=tenant.organization, provider_name="meta_cloud", display_name="Meta",
        config={"phone_number_id": PHONE_ID, "base_url": provider.url},
        credentials={"access_token": STORED_TOKEN, "app_secret": STORED_APP_SECRET},
    )


def _stored(integration) -> OrganizationIntegration:
    return OrganizationIntegration.objects.get(pk=integration.pk)


def _tokens_seen(server) -> list[str]:
    return [request.header("Authorization") for request in server.requests]


@pytest.mark.django_db
def test_api_base_url_change_without_the_secrets_is_refused_and_nothing_reaches_it(tenant, meta, provider, attacker):
    api = tenant.api()
    response = api.patch(f"/api/v1/integrations/{meta.pk}/",
                         {"config": {"phone_number_id": PHONE_ID, "base_url": attacker.url}}, format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "credentials_required"
    assert set(body["errors"]) == {"access_token", "app_secret"}
    assert _stored(meta).config["base_url"] == provider.url

    tested = api.post(f"/api/v1/integrations/{meta.pk}/test/")
    assert tested.status_code == 200 and tested.json()["status"] == "healthy"
    assert attacker.requests == [] and provider.requests


@pytest.mark.django_db
def test_with_every_secret_the_move_is_allowed_and_only_the_new_secret_travels(tenant, meta, attacker):
    api = tenant.api()
    response = api.patch(f"/api/v1/integrations/{meta.pk}/", {
        "config": {"phone_number_id": PHONE_ID, "base_url": attacker.url},
        "credentials": {"access_token": "EAAG-their-own-token-000", "app_secret": "their-own-app-secret-0"},
    }, format="json")
    assert response.status_code == 200, response.content

    tested = api.post(f"/api/v1/integrations/{meta.pk}/test/").json()

    assert tested["status"] == "down"
    assert INTERNAL_PAGE not in tested["detail"] and "root:x" not in tested["detail"]
    assert all(STORED_TOKEN not in (seen or "") for seen in _tokens_seen(attacker))


@pytest.mark.django_db
def test_legacy_configure_route_refuses_the_move_too(tenant, meta, provider, attacker):
    response = tenant.api().post("/api/integrations/whatsapp/provider/configure", {
        "provider_type": "meta_cloud", "config_data": {"phone_number_id": PHONE_ID, "base_url": attacker.url},
    }, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "credentials_required"
    assert _stored(meta).config["base_url"] == provider.url


@pytest.mark.django_db
def test_admin_change_form_refuses_the_move_and_keeps_the_secrets(tenant, meta, provider, attacker):
    client = Client()
    client.force_login(tenant.admin)
    page = f"/admin/integrations/organizationintegration/{meta.pk}/change/"
    form = {
        "display_name": "Meta", "priority": meta.priority, "status": meta.status,
        "config__phone_number_id": PHONE_ID, "config__base_url": attacker.url,
        "secret__access_token": "", "secret__app_secret": "", "secret__verify_token": "",
    }

    response = client.post(page, form)

    assert response.status_code == 200  # the form again, with the error
    assert "sends the credentials somewhere else" in response.content.decode()
    stored = _stored(meta)
    assert stored.config["base_url"] == provider.url and stored.credentials["access_token"] == STORED_TOKEN


@pytest.mark.django_db
@pytest.mark.parametrize("route", ["v1", "legacy"])
def test_a_masked_hint_sent_back_keeps_the_stored_secret(tenant, meta, route):
    api = tenant.api()
    hints = api.get(f"/api/v1/integrations/{meta.pk}/").json()["credentials"]
    assert hints["access_token"].startswith("••••") and hints["access_token"] != STORED_TOKEN

    if route == "v1":
        response = api.patch(f"/api/v1/integrations/{meta.pk}/", {"credentials": hints}, format="json")
    else:
        response = api.post("/api/integrations/whatsapp/provider/configure", {
            "provider_type": "meta_cloud", "config_data": {"phone_number_id": PHONE_ID, **hints},
        }, format="json")

    assert response.status_code == 200, response.content
    stored = _stored(meta)
    assert stored.credentials == {"access_token": STORED_TOKEN, "app_secret": STORED_APP_SECRET}


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["api_key", "access_token", "password", "client_secret", "Authorization"])
def test_secret_named_keys_are_refused_in_config(tenant, meta, key):
    response = tenant.api().patch(f"/api/v1/integrations/{meta.pk}/",
                                  {"config": {**_stored(meta).config, key: "sk_live_0123456789"}}, format="json")

    assert response.status_code == 400, response.content
    assert key in response.json()["errors"]
    assert key not in _stored(meta).config


@pytest.mark.django_db
@pytest.mark.parametrize("timeout", [-1, 0, "nan", "inf", 1e300, 1000000, "-0", True])
def test_timeouts_out_of_bounds_are_refused(tenant, meta, timeout):
    response = tenant.api().patch(f"/api/v1/integrations/{meta.pk}/",
                                  {"config": {**_stored(meta).config, "read_timeout": timeout}}, format="json")

    assert response.status_code == 400, response.content
    assert "read_timeout" in response.json()["errors"]


@pytest.mark.django_db
def test_a_secret_named_key_stored_before_the_validator_is_never_shown_in_clear(tenant, meta):
    stored = {**_stored(meta).config, "api_key": "sk_live_0123456789", "nested": {"password": "hunter2-0123"}}
    OrganizationIntegration.objects.filter(pk=meta.pk).update(config=stored)

    shown = tenant.api().get(f"/api/v1/integrations/{meta.pk}/")

    assert shown.status_code == 200
    body = shown.content.decode()
    assert "sk_live_0123456789" not in body and "hunter2-0123" not in body
    assert shown.json()["config"]["api_key"] == "••••" and shown.json()["config"]["phone_number_id"] == PHONE_ID
