"""The WhatsApp Web pairing view, against a loopback WAHA bridge."""

import pytest
from django.template.loader import render_to_string
from django.urls import reverse

from audit.models import AuditEvent
from integrations.models import Membership
from tests.factories import make_integration, make_membership, make_user
from tests.providers.loopback import LoopbackServer, Reply

pytestmark = pytest.mark.django_db

API_KEY = "waha-PAIRING-key-123456"


@pytest.fixture
def bridge():
    with LoopbackServer(authorize=lambda r: r.header("X-Api-Key") == API_KEY) as server:
        server.route("GET", "/api/sessions/default", Reply(json={"name": "default", "status": "SCAN_QR_CODE"}))
        server.route("GET", "/api/default/auth/qr", Reply(json={"mimetype": "image/png", "data": "iVBORw0KGgoAAAANSUhEUg=="}))
        yield server


@pytest.fixture
def integration(organization, bridge):
    return make_integration(organization=organization, provider_name="whatsapp_web",
                            config={"base_url": bridge.url}, credentials={"api_key": API_KEY})


def pairing_url(integration):
    return reverse("integration_pairing", kwargs={"integration_id": integration.pk})


def test_org_admin_gets_the_qr_while_the_session_waits_for_a_scan(client, organization, integration):
    user = make_user()
    make_membership(user=user, organization=organization, role=Membership.Role.ADMIN)
    client.force_login(user)
    data = client.get(pairing_url(integration)).json()
    assert data["status"] == "scan_qr_code" and data["paired"] is False
    assert data["qr"] == "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg=="
    assert API_KEY not in str(data)


def test_paired_session_has_no_qr(client, integration, bridge):
    bridge.route("GET", "/api/sessions/default", Reply(json={"name": "default", "status": "WORKING"}))
    client.force_login(make_user(superuser=True))
    data = client.get(pairing_url(integration)).json()
    assert (data["status"], data["paired"], data["qr"]) == ("working", True, None)


def test_unreachable_bridge_is_a_state_not_an_error(client, integration, bridge):
    bridge.queue(Reply(status=503, json={"message": "down"}), Reply(status=503), Reply(status=503))
    client.force_login(make_user(superuser=True))
    response = client.get(pairing_url(integration))
    assert response.status_code == 200
    assert response.json()["status"] == "unreachable"


@pytest.mark.parametrize("role", [Membership.Role.MEMBER, Membership.Role.VIEWER, None])
def test_staff_without_admin_role_in_that_organization_get_404(client, organization, other_organization, integration, role):
    user = make_user()
    if role:
        make_membership(user=user, organization=organization, role=role)
    make_membership(user=user, organization=other_organization, role=Membership.Role.OWNER)
    client.force_login(user)
    assert client.get(pairing_url(integration)).status_code == 404


def test_non_staff_are_sent_to_the_login(client, organization, integration):
    user = make_user(staff=False)
    make_membership(user=user, organization=organization, role=Membership.Role.OWNER)
    client.force_login(user)
    response = client.get(pairing_url(integration))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_provider_without_pairing_is_400(client, organization):
    integration = make_integration(organization=organization)
    client.force_login(make_user(superuser=True))
    assert client.get(pairing_url(integration)).status_code == 400


def test_snippet_renders_for_the_bridge_only(organization, integration):
    html = render_to_string("integrations/_pairing_qr.html", {"integration": integration})
    assert pairing_url(integration) in html and "setTimeout(poll" in html
    sandbox = make_integration(organization=organization)
    assert render_to_string("integrations/_pairing_qr.html", {"integration": sandbox}).strip() == ""


def test_post_starts_the_session_with_our_webhook_and_audits(client, organization, integration, bridge):
    bridge.route("POST", "/api/sessions", Reply(status=201, json={"name": "default", "status": "STARTING"}))
    user = make_user()
    make_membership(user=user, organization=organization, role=Membership.Role.OWNER)
    client.force_login(user)
    data = client.post(pairing_url(integration)).json()
    assert data["status"] == "scan_qr_code" and data["qr"]
    [webhook] = bridge.requests_to("POST", "/api/sessions")[0].json()["config"]["webhooks"]
    assert webhook["url"] == integration.webhook_url and webhook["hmac"]["key"] == integration.webhook_secret
    event = AuditEvent.objects.get(action="integration.session_started")
    assert event.outcome == "success" and event.organization == organization
    assert integration.webhook_secret not in str(event.after) and API_KEY not in str(event.after)


def test_post_reports_a_bridge_refusal_without_secrets(client, integration, bridge):
    bridge.route("POST", "/api/sessions", Reply(status=400, json={"message": f"bad key {API_KEY}"}))
    client.force_login(make_user(superuser=True))
    response = client.post(pairing_url(integration))
    assert response.status_code == 400
    assert API_KEY not in response.content.decode()
    assert AuditEvent.objects.get(action="integration.session_started").outcome == "failure"


def test_post_is_refused_for_other_organizations_admins(client, other_organization, integration, bridge):
    user = make_user()
    make_membership(user=user, organization=other_organization, role=Membership.Role.OWNER)
    client.force_login(user)
    assert client.post(pairing_url(integration)).status_code == 404
    assert bridge.requests == []
