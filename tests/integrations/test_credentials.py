"""Credentials are ciphertext at rest and never leave the system in clear."""

import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from audit.models import AuditEvent
from integrations.models import OrganizationIntegration
from tests.factories import SECRET_API_KEY, make_integration, make_user

pytestmark = pytest.mark.django_db


def test_credentials_and_webhook_secret_are_ciphertext_in_the_database(organization):
    integration = make_integration(organization=organization, display_name="A")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT credentials::text, webhook_secret FROM organization_integrations WHERE id = %s", [str(integration.pk)]
        )
        credentials_column, secret_column = cursor.fetchone()
    assert SECRET_API_KEY not in credentials_column
    assert integration.webhook_secret not in secret_column
    stored = json.loads(credentials_column)
    assert stored["api_key"].startswith("gAAAA")  # a Fernet token
    # And the model reads it back.
    assert OrganizationIntegration.objects.get(pk=integration.pk).credentials == {"api_key": SECRET_API_KEY}


def test_no_secret_in_audit_events(organization):
    integration = make_integration(organization=organization, display_name="A")
    from integrations.services.integrations import integration_update

    integration_update(integration=integration, credentials={"api_key": "rotated-secret-value-9"}, actor="system:test")
    dump = json.dumps([[e.before, e.after, e.reason, e.target_repr] for e in AuditEvent.objects.all()])
    assert SECRET_API_KEY not in dump and "rotated-secret-value-9" not in dump
    assert integration.webhook_secret not in dump


def test_no_secret_in_admin_pages(client, organization):
    integration = make_integration(organization=organization, display_name="A")
    client.force_login(make_user(superuser=True))
    pages = [
        reverse("admin:integrations_organizationintegration_changelist"),
        reverse("admin:integrations_organizationintegration_change", args=[integration.pk]),
        reverse("admin:integrations_organization_change", args=[organization.pk]),
        reverse("admin:audit_auditevent_changelist"),
    ]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        html = response.content.decode()
        assert SECRET_API_KEY not in html, page
        assert integration.webhook_secret not in html, page


def test_no_secret_in_command_output(organization, capsys):
    integration = make_integration(organization=organization, display_name="A")
    make_integration(organization=organization, display_name="B")
    call_command("list_integrations", "--org", "acme")
    call_command("list_integrations", "--org", "acme", "--json")
    call_command("switch_provider", "--org", "acme", "--channel", "whatsapp", "--to", "B")
    output = capsys.readouterr()
    assert SECRET_API_KEY not in output.out + output.err
    assert integration.webhook_secret not in output.out + output.err
    assert "••••" + SECRET_API_KEY[-4:] in output.out
