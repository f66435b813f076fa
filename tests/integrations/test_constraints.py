"""The database itself guards the primary invariants, whatever the Python code does."""

import uuid

import pytest
from django.db import IntegrityError, connection, transaction

from integrations.models import OrganizationIntegration
from tests.factories import make_integration

pytestmark = pytest.mark.django_db


def _raw_insert(organization, *, display_name, is_primary, status):
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO organization_integrations
              (id, organization_id, channel, provider_name, display_name, status, credentials,
               webhook_secret, config, is_primary, priority, health_status, health_detail,
               consecutive_failures, created_at, updated_at)
            VALUES (%s, %s, 'whatsapp', 'sandbox_whatsapp', %s, %s, '{}', 'x', '{}', %s, 0,
                    'unknown', '', 0, now(), now())
            """,
            [str(uuid.uuid4()), str(organization.pk), display_name, status, is_primary],
        )


def test_second_primary_is_refused_by_raw_insert(organization):
    make_integration(organization=organization, display_name="A")  # becomes primary
    with pytest.raises(IntegrityError, match="integration_one_primary_per_org_channel"):
        with transaction.atomic():
            _raw_insert(organization, display_name="B", is_primary=True, status="active")


def test_second_primary_is_refused_by_raw_update(organization):
    first = make_integration(organization=organization, display_name="A")
    second = make_integration(organization=organization, display_name="B")
    assert first.is_primary and not second.is_primary
    with pytest.raises(IntegrityError, match="integration_one_primary_per_org_channel"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("UPDATE organization_integrations SET is_primary = true WHERE id = %s", [str(second.pk)])


def test_primary_that_is_not_active_is_refused(organization):
    first = make_integration(organization=organization, display_name="A")
    with pytest.raises(IntegrityError, match="integration_primary_is_active"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("UPDATE organization_integrations SET status = 'inactive' WHERE id = %s", [str(first.pk)])
    with pytest.raises(IntegrityError, match="integration_primary_is_active"):
        with transaction.atomic():
            _raw_insert(organization, display_name="C", is_primary=True, status="pending")


def test_primaries_of_other_channels_and_organizations_coexist(organization, other_organization):
    make_integration(organization=organization, display_name="WA")
    make_integration(organization=organization, provider_name="sandbox_voip", display_name="VO")
    make_integration(organization=other_organization, display_name="WA")
    assert OrganizationIntegration.objects.filter(is_primary=True).count() == 3
