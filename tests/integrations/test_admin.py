"""Admin: org admins see only their organizations; forms never echo a secret."""

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from integrations.models import Membership, OrganizationIntegration
from tests.factories import SECRET_API_KEY, make_integration, make_membership, make_user

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:integrations_organizationintegration_changelist"
CHANGE = "admin:integrations_organizationintegration_change"


@pytest.fixture
def setup(organization, other_organization):
    admin_a = make_user(username="alice")
    make_membership(user=admin_a, organization=organization, role=Membership.Role.ADMIN)
    mine = [make_integration(organization=organization, display_name=n) for n in ("alpha-wa-1", "alpha-wa-2")]
    theirs = [make_integration(organization=other_organization, display_name=n) for n in ("bravo-wa-1", "bravo-wa-2")]
    return admin_a, mine, theirs


def test_org_admin_lists_only_their_integrations(client, setup):
    admin_a, mine, theirs = setup
    client.force_login(admin_a)
    html = client.get(reverse(CHANGELIST)).content.decode()
    assert "alpha-wa-1" in html and "alpha-wa-2" in html
    assert "bravo-wa-1" not in html and "bravo-wa-2" not in html
    # Only the primary wears the badge.
    assert html.count("★ Primary") == 1


def test_organization_page_marks_only_the_primary(client, setup, organization):
    admin_a, mine, theirs = setup
    client.force_login(admin_a)
    html = client.get(reverse("admin:integrations_organization_change", args=[organization.pk])).content.decode()
    assert html.count("★ Primary") == 1


def test_org_admin_cannot_open_another_orgs_change_page(client, setup):
    admin_a, mine, theirs = setup
    client.force_login(admin_a)
    assert client.get(reverse(CHANGE, args=[mine[0].pk])).status_code == 200
    response = client.get(reverse(CHANGE, args=[theirs[0].pk]))
    # The admin redirects "does not exist" to the index: it never shows the object.
    assert response.status_code == 302
    assert "bravo-wa-1" not in client.get(response["Location"], follow=True).content.decode()


def test_org_admin_cannot_post_changes_to_another_org(client, setup):
    admin_a, mine, theirs = setup
    client.force_login(admin_a)
    client.post(reverse(CHANGE, args=[theirs[0].pk]), {"display_name": "hijacked", "status": "active", "provider_name": "sandbox_whatsapp"})
    assert OrganizationIntegration.objects.get(pk=theirs[0].pk).display_name == "bravo-wa-1"


def test_make_primary_action_cannot_touch_another_org(client, setup):
    admin_a, mine, theirs = setup
    client.force_login(admin_a)
    client.post(reverse(CHANGELIST), {"action": "make_primary", "_selected_action": [str(theirs[1].pk)]})
    assert OrganizationIntegration.objects.get(pk=theirs[0].pk).is_primary
    assert not OrganizationIntegration.objects.get(pk=theirs[1].pk).is_primary
    assert not AuditEvent.objects.filter(action="provider.switched").exists()


def test_make_primary_action_switches_through_the_service(client, setup):
    admin_a, mine, theirs = setup
    client.force_login(admin_a)
    response = client.post(reverse(CHANGELIST), {"action": "make_primary", "_selected_action": [str(mine[1].pk)]}, follow=True)
    assert "Alpha-wa-2 is now primary (was alpha-wa-1)" in response.content.decode()
    assert OrganizationIntegration.objects.get(pk=mine[1].pk).is_primary
    event = AuditEvent.objects.get(action="provider.switched")
    assert event.actor == "user:alice"


def test_test_connection_action_reports_health(client, setup):
    admin_a, mine, theirs = setup
    client.force_login(admin_a)
    response = client.post(reverse(CHANGELIST), {"action": "test_connection", "_selected_action": [str(mine[0].pk)]}, follow=True)
    assert "Alpha-wa-1: Healthy" in response.content.decode()
    assert OrganizationIntegration.objects.get(pk=mine[0].pk).health_status == "healthy"


def test_member_without_admin_role_sees_nothing(client, organization):
    viewer = make_user(username="victor")
    make_membership(user=viewer, organization=organization, role=Membership.Role.VIEWER)
    make_integration(organization=organization, display_name="alpha-wa-1")
    client.force_login(viewer)
    assert client.get(reverse(CHANGELIST)).status_code == 403


def test_change_page_never_renders_a_secret(client, setup):
    admin_a, mine, theirs = setup
    client.force_login(admin_a)
    html = client.get(reverse(CHANGE, args=[mine[0].pk])).content.decode()
    assert SECRET_API_KEY not in html
    assert "••••" + SECRET_API_KEY[-4:] in html  # the masked hint
    assert 'type="password"' in html


def test_add_flow_creates_through_the_service_and_keeps_blank_secret_on_edit(client, setup, organization):
    admin_a, mine, theirs = setup
    client.force_login(admin_a)
    chooser = client.get(reverse("admin:integrations_organizationintegration_add"))
    assert "Sandbox VoIP" in chooser.content.decode()
    response = client.post(
        reverse("admin:integrations_organizationintegration_add") + "?provider_name=sandbox_voip",
        {
            "provider_name": "sandbox_voip",
            "organization": str(organization.pk),
            "display_name": "Voice",
            "status": "active",
            "secret__api_key": "voice-secret-value-123",
            "config__sender": "+14155550100",
            "config__failure_mode": "",
            "config__health": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    voice = OrganizationIntegration.objects.get(display_name="Voice")
    assert voice.is_primary and voice.credentials == {"api_key": "voice-secret-value-123"}
    assert voice.created_by == admin_a
    # Editing with the secret input left blank keeps the stored secret.
    client.post(
        reverse(CHANGE, args=[voice.pk]),
        {"provider_name": "sandbox_voip", "display_name": "Voice 2", "status": "active", "secret__api_key": ""},
    )
    voice.refresh_from_db()
    assert voice.display_name == "Voice 2" and voice.credentials == {"api_key": "voice-secret-value-123"}


def test_invalid_config_is_shown_per_field(client, setup, organization):
    admin_a, mine, theirs = setup
    client.force_login(admin_a)
    response = client.post(
        reverse("admin:integrations_organizationintegration_add") + "?provider_name=sandbox_whatsapp",
        {"provider_name": "sandbox_whatsapp", "organization": str(organization.pk), "display_name": "Bad",
         "status": "pending", "config__sender": "not a phone", "config__failure_rate": "3"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "is not a phone number in E.164 form" in html
    assert "Failure rate must be between 0 and 1" in html
    assert not OrganizationIntegration.objects.filter(display_name="Bad").exists()


def test_deleting_the_primary_from_admin_is_refused_with_a_message(client, setup):
    admin_a, mine, theirs = setup
    client.force_login(admin_a)
    response = client.post(
        reverse("admin:integrations_organizationintegration_delete", args=[mine[0].pk]), {"post": "yes"}, follow=True
    )
    assert "switch the primary to another integration first" in response.content.decode()
    assert OrganizationIntegration.objects.filter(pk=mine[0].pk).exists()


def test_audit_admin_is_read_only_and_scoped(client, setup, other_organization):
    admin_a, mine, theirs = setup
    client.force_login(admin_a)
    html = client.get(reverse("admin:audit_auditevent_changelist")).content.decode()
    assert "alpha-wa-1" in html and "bravo-wa-1" not in html
    event = AuditEvent.objects.filter(organization=other_organization).first()
    assert client.get(reverse("admin:audit_auditevent_change", args=[event.pk])).status_code in (302, 403)
    assert client.get(reverse("admin:audit_auditevent_add")).status_code == 403
