"""Organization settings in the admin: saved through the service, notification secret handling."""

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from integrations.models import Organization
from integrations.services.notifications import deliver_notification_webhook
from tests.factories import make_membership, make_user

pytestmark = pytest.mark.django_db


def test_setting_a_notification_url_generates_a_signing_secret(client, organization):
    admin_user = make_user(username="olga")
    make_membership(user=admin_user, organization=organization)
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:integrations_organization_change", args=[organization.pk]),
        {
            "name": "Acme", "slug": "acme", "notification_url": "https://hooks.example.com/switchboard",
            "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0",
            "integrations-TOTAL_FORMS": "0", "integrations-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    organization.refresh_from_db()
    assert organization.notification_url == "https://hooks.example.com/switchboard"
    assert len(organization.notification_secret) >= 32
    event = AuditEvent.objects.get(action="organization.updated")
    assert event.after == {"notification_url": "https://hooks.example.com/switchboard"}
    assert organization.notification_secret not in str(event.after)


def test_rotating_shows_the_new_secret_once_and_audits_without_it(client, organization):
    admin_user = make_user(username="olga")
    make_membership(user=admin_user, organization=organization)
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:integrations_organization_changelist"),
        {"action": "rotate_notification_secret", "_selected_action": [str(organization.pk)]},
    )
    organization.refresh_from_db()
    html = response.content.decode()
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    assert organization.notification_secret and organization.notification_secret in html
    # Not shown again on the organization's page.
    page = client.get(reverse("admin:integrations_organization_change", args=[organization.pk])).content.decode()
    assert organization.notification_secret not in page
    event = AuditEvent.objects.get(action="organization.notification_secret_rotated")
    assert organization.notification_secret not in repr((event.before, event.after, event.reason))


def test_another_orgs_admin_cannot_rotate(client, organization, other_organization):
    outsider = make_user(username="mallory")
    make_membership(user=outsider, organization=other_organization)
    client.force_login(outsider)
    client.post(
        reverse("admin:integrations_organization_changelist"),
        {"action": "rotate_notification_secret", "_selected_action": [str(organization.pk)]},
    )
    organization.refresh_from_db()
    assert not organization.notification_secret
    assert not AuditEvent.objects.filter(action="organization.notification_secret_rotated").exists()


def test_notifications_are_never_sent_unsigned(organization):
    Organization.objects.filter(pk=organization.pk).update(notification_url="http://127.0.0.1:9/unreachable")
    status = deliver_notification_webhook(
        organization_id=str(organization.pk), payload={"id": "n1", "event": "provider.down"}, final_attempt=True
    )
    assert status == 0
    event = AuditEvent.objects.get(action="notification.webhook")
    assert event.outcome == "failure" and "No signing secret" in event.reason
