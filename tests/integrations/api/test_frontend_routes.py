"""The routes the existing Next.js frontend calls, with exactly the bodies it sends."""

from __future__ import annotations

from datetime import datetime

import pytest

from audit.models import AuditEvent
from integrations.models import Membership, OrganizationIntegration
from tests.factories import make_membership, make_organization, make_user

from .conftest import SECRET_ACCESS_TOKEN, SECRET_NEW_KEY


@pytest.fixture
def fresh_org(db):
    """An organization with nothing configured, and its admin."""
    organization = make_organization(name="Charlie", slug="charlie")
    admin = make_user(username="charlie-admin", staff=False)
    make_membership(user=admin, organization=organization, role=Membership.Role.ADMIN)
    return organization, admin


def test_channel_providers_is_a_list_of_names(api_client, fresh_org):
    organization, admin = fresh_org
    names = api_client(admin, org=str(organization.pk)).get("/api/integrations/whatsapp/providers").json()
    assert isinstance(names, list)
    assert {"sandbox_whatsapp", "meta_cloud"} <= set(names)
    assert "sandbox_voip" not in names
    assert api_client(admin).get("/api/integrations/fax/providers").status_code == 404


def test_current_before_anything_is_configured(api_client, fresh_org):
    organization, admin = fresh_org
    body = api_client(admin, org=organization.slug).get("/api/integrations/whatsapp/provider/current").json()
    assert body == {"provider": None, "status": "not_configured", "connection_quality": "disconnected", "last_activity": None}


def test_configure_with_is_active_creates_and_makes_primary(api_client, fresh_org, tenant_b):
    organization, admin = fresh_org
    client = api_client(admin, org=str(organization.pk))
    body = {
        "provider_type": "sandbox_whatsapp",
        # Another organization's id in the body changes nothing: the header decides.
        "organization_id": str(tenant_b.organization.pk),
        "config_data": {"api_key": SECRET_NEW_KEY, "label": "frontend"},
        "is_active": True,
    }
    response = client.post("/api/integrations/whatsapp/provider/configure", body, format="json")
    assert response.status_code == 200
    assert set(response.json()) == {"message"} and "primary" in response.json()["message"]
    integration = OrganizationIntegration.objects.for_org(organization).get()
    assert integration.is_primary and integration.status == "active"
    assert integration.config == {"label": "frontend"} and integration.credentials == {"api_key": SECRET_NEW_KEY}
    assert not OrganizationIntegration.objects.for_org(tenant_b.organization).filter(config__label="frontend").exists()

    current = client.get("/api/integrations/whatsapp/provider/current").json()
    assert current["provider"] == "sandbox_whatsapp" and current["status"] == "active"
    assert current["connection_quality"] == "excellent"
    assert datetime.fromisoformat(current["last_activity"])


def test_configure_without_is_active_only_stores_and_secrets_go_to_credentials(api_client, fresh_org):
    organization, admin = fresh_org
    client = api_client(admin)
    body = {
        "provider_type": "meta_cloud",
        "organization_id": str(organization.pk),
        "config_data": {"phone_number_id": "1234567890", "access_token": SECRET_ACCESS_TOKEN, "app_secret": SECRET_NEW_KEY},
        "is_active": False,
    }
    response = client.post("/api/integrations/whatsapp/provider/configure", body, format="json")
    assert response.status_code == 200, response.json()
    integration = OrganizationIntegration.objects.for_org(organization).get()
    assert integration.status == "pending" and not integration.is_primary
    assert integration.config == {"phone_number_id": "1234567890"}
    assert integration.credentials == {"access_token": SECRET_ACCESS_TOKEN, "app_secret": SECRET_NEW_KEY}
    assert client.get("/api/integrations/whatsapp/provider/current").json()["status"] == "configured"

    # Sending the masked hint back keeps the stored secret.
    body["config_data"] = {"phone_number_id": "1234567891", "access_token": "••••1111", "app_secret": SECRET_NEW_KEY}
    assert client.post("/api/integrations/whatsapp/provider/configure", body, format="json").status_code == 200
    integration.refresh_from_db()
    assert integration.config["phone_number_id"] == "1234567891"
    assert integration.credentials["access_token"] == SECRET_ACCESS_TOKEN


def test_configure_refuses_a_provider_of_another_channel(api_client, fresh_org):
    organization, admin = fresh_org
    body = {"provider_type": "sandbox_voip", "organization_id": None, "config_data": {}, "is_active": True}
    response = api_client(admin).post("/api/integrations/whatsapp/provider/configure", body, format="json")
    assert response.status_code == 400
    assert "voip" in response.json()["detail"]


@pytest.fixture
def second_sandbox():
    """A second WhatsApp provider class, so a switch has somewhere to go."""
    from providers.registry import get_registry
    from providers.sandbox import SandboxWhatsApp

    class SecondSandbox(SandboxWhatsApp):
        name = "sandbox_whatsapp_two"
        display_name = "Sandbox WhatsApp Two"

    get_registry().register(SecondSandbox)
    return SecondSandbox


def _configure_first(client, organization):
    first = {"provider_type": "sandbox_whatsapp", "organization_id": str(organization.pk), "config_data": {}, "is_active": True}
    assert client.post("/api/integrations/whatsapp/provider/configure", first, format="json").status_code == 200
    return OrganizationIntegration.objects.for_org(organization).get(is_primary=True)


def test_switch_to_the_current_primary_is_a_no_op(api_client, tenant_a):
    client = api_client(tenant_a.admin)
    switches = AuditEvent.objects.for_org(tenant_a.organization).filter(action="provider.switched").count()
    body = {"provider_type": "sandbox_voip", "organization_id": str(tenant_a.organization.pk),
            "config_data": {}, "is_active": True}
    response = client.post("/api/integrations/voip/provider/switch", body, format="json")
    assert response.status_code == 200 and "already" in response.json()["message"]
    assert AuditEvent.objects.for_org(tenant_a.organization).filter(action="provider.switched").count() == switches


def test_switch_configures_tests_and_switches(api_client, fresh_org, second_sandbox):
    organization, admin = fresh_org
    client = api_client(admin)
    _configure_first(client, organization)
    body = {"provider_type": "sandbox_whatsapp_two", "organization_id": str(organization.pk),
            "config_data": {"label": "two"}, "is_active": True}
    response = client.post("/api/integrations/whatsapp/provider/switch", body, format="json")
    assert response.status_code == 200, response.json()
    assert "Switched" in response.json()["message"]
    primary = OrganizationIntegration.objects.for_org(organization).get(is_primary=True)
    assert (primary.provider_name, primary.config, primary.health_status) == ("sandbox_whatsapp_two", {"label": "two"}, "healthy")
    event = AuditEvent.objects.for_org(organization).filter(action="provider.switched").first()
    assert event.actor == "user:charlie-admin"


def test_switch_to_a_failing_provider_is_refused_with_detail(api_client, fresh_org, second_sandbox):
    organization, admin = fresh_org
    client = api_client(admin)
    primary = _configure_first(client, organization)
    down = {"provider_type": "sandbox_whatsapp_two", "organization_id": str(organization.pk),
            "config_data": {"health": "down"}, "is_active": True}
    response = client.post("/api/integrations/whatsapp/provider/switch", down, format="json")
    assert response.status_code == 400
    assert set(response.json()) >= {"detail"} and "down" in response.json()["detail"]
    primary.refresh_from_db()
    assert primary.is_primary


def test_providers_list_status_switch_and_switch_primary(api_client, tenant_a):
    client = api_client(tenant_a.admin, org="alpha")
    providers = client.get("/api/providers/").json()
    sandbox = next(p for p in providers if p["name"] == "sandbox_whatsapp")
    assert sandbox["configured"] is True and sandbox["is_primary"] is True
    assert next(p for p in providers if p["name"] == "telnyx")["configured"] is False

    status = client.get("/api/providers/status/whatsapp").json()
    assert status["provider"] == "sandbox_whatsapp" and status["status"] == "active"

    switched = client.post("/api/providers/switch",
                           {"provider_type": "whatsapp", "new_provider": "sandbox_whatsapp", "config": {}}, format="json")
    assert switched.status_code == 200 and switched.json() == {"success": True}

    response = client.post("/api/providers/switch-primary",
                           {"provider_type": "whatsapp", "new_provider_id": str(tenant_a.whatsapp_fallback.pk)}, format="json")
    assert response.status_code == 200 and response.json() == {"success": True}
    tenant_a.whatsapp_fallback.refresh_from_db()
    assert tenant_a.whatsapp_fallback.is_primary

    wrong_channel = client.post("/api/providers/switch-primary",
                                {"provider_type": "voip", "new_provider_id": str(tenant_a.whatsapp_primary.pk)}, format="json")
    assert wrong_channel.status_code == 400 and wrong_channel.json()["detail"]
