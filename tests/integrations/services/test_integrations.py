import pytest
from django.core.exceptions import ValidationError

from audit.models import AuditEvent
from integrations.errors import OperationRefused
from integrations.models import OrganizationIntegration
from integrations.services.integrations import (
    integration_create,
    integration_deactivate,
    integration_delete,
    integration_update,
    integrations_reorder,
)
from tests.factories import SECRET_API_KEY, make_integration

pytestmark = pytest.mark.django_db


def test_first_active_integration_becomes_primary(organization):
    pending = make_integration(organization=organization, display_name="P", status="pending")
    first = make_integration(organization=organization, display_name="A")
    second = make_integration(organization=organization, display_name="B")
    assert not pending.is_primary
    assert first.is_primary and not second.is_primary


def test_create_validates_through_the_provider(organization):
    with pytest.raises(ValidationError) as excinfo:
        integration_create(
            organization=organization,
            provider_name="sandbox_whatsapp",
            display_name="Bad",
            config={"sender": "12345", "failure_rate": "2", "latency_ms": "soon"},
            actor="system:test",
        )
    errors = excinfo.value.message_dict
    # Every field error at once.
    assert set(errors) == {"sender", "failure_rate", "latency_ms"}
    assert not OrganizationIntegration.objects.exists()


def test_create_refuses_unknown_provider_and_wrong_channel(organization):
    with pytest.raises(ValidationError, match="No provider named 'nope'"):
        integration_create(organization=organization, provider_name="nope", display_name="X", actor="system:test")
    with pytest.raises(ValidationError, match="is a whatsapp provider, not voip"):
        integration_create(
            organization=organization, provider_name="sandbox_whatsapp", channel="voip", display_name="X", actor="system:test"
        )


def test_update_keeps_secrets_left_blank(organization):
    integration = make_integration(organization=organization, display_name="A")
    integration_update(integration=integration, credentials={"api_key": ""}, display_name="A2", actor="system:test")
    integration.refresh_from_db()
    assert integration.credentials == {"api_key": SECRET_API_KEY}
    assert integration.display_name == "A2"
    integration_update(integration=integration, credentials={"api_key": "new-key-0000000000"}, actor="system:test")
    integration.refresh_from_db()
    assert integration.credentials == {"api_key": "new-key-0000000000"}
    replaced = AuditEvent.objects.filter(action="integration.updated").order_by("created_at").last()
    assert replaced.after["credentials_replaced"] == ["api_key"]


def test_deactivating_or_deleting_the_primary_is_refused(organization):
    primary = make_integration(organization=organization, display_name="A")
    make_integration(organization=organization, display_name="B")
    with pytest.raises(OperationRefused, match="switch the primary to another integration first"):
        integration_deactivate(integration=primary, actor="system:test")
    with pytest.raises(OperationRefused, match="switch the primary to another integration first"):
        integration_delete(integration=primary, actor="system:test")
    with pytest.raises(OperationRefused, match="switch the primary"):
        integration_update(integration=primary, status="inactive", actor="system:test")
    primary.refresh_from_db()
    assert primary.is_primary and primary.status == "active"


def test_deactivate_with_promotion_hands_over_to_the_next_fallback(organization):
    primary = make_integration(organization=organization, display_name="A", priority=100)
    low = make_integration(organization=organization, display_name="Low", priority=10)
    high = make_integration(organization=organization, display_name="High", priority=50)
    integration_deactivate(integration=primary, actor="system:test", promote_next=True)
    primary.refresh_from_db()
    high.refresh_from_db()
    low.refresh_from_db()
    assert primary.status == "inactive" and not primary.is_primary
    assert high.is_primary and not low.is_primary
    assert AuditEvent.objects.filter(action="provider.switched").count() == 1


def test_delete_with_promotion_and_no_fallback_is_refused(organization):
    only = make_integration(organization=organization, display_name="Only")
    with pytest.raises(OperationRefused, match="no other active whatsapp integration can take over"):
        integration_delete(integration=only, actor="system:test", promote_next=True)
    assert OrganizationIntegration.objects.filter(pk=only.pk).exists()


def test_delete_a_fallback_is_audited(organization):
    make_integration(organization=organization, display_name="A")
    fallback = make_integration(organization=organization, display_name="B")
    integration_delete(integration=fallback, actor="system:test")
    assert not OrganizationIntegration.objects.filter(pk=fallback.pk).exists()
    event = AuditEvent.objects.get(action="integration.deleted")
    assert event.before["display_name"] == "B"


def test_reorder_sets_priorities_and_audits(organization):
    a = make_integration(organization=organization, display_name="A")
    b = make_integration(organization=organization, display_name="B")
    c = make_integration(organization=organization, display_name="C")
    integrations_reorder(organization=organization, channel="whatsapp", ordered_ids=[c.pk, a.pk, b.pk], actor="system:test")
    priorities = dict(OrganizationIntegration.objects.values_list("display_name", "priority"))
    assert priorities["C"] > priorities["A"] > priorities["B"]
    assert AuditEvent.objects.filter(action="integration.reordered").count() == 1


def test_reorder_must_name_every_integration_once(organization, other_organization):
    a = make_integration(organization=organization, display_name="A")
    b = make_integration(organization=organization, display_name="B")
    foreign = make_integration(organization=other_organization, display_name="F")
    with pytest.raises(ValidationError, match="missing"):
        integrations_reorder(organization=organization, channel="whatsapp", ordered_ids=[a.pk], actor="system:test")
    with pytest.raises(ValidationError, match="not whatsapp integrations of Acme"):
        integrations_reorder(organization=organization, channel="whatsapp", ordered_ids=[a.pk, b.pk, foreign.pk], actor="system:test")
    with pytest.raises(ValidationError, match="more than once"):
        integrations_reorder(organization=organization, channel="whatsapp", ordered_ids=[a.pk, a.pk, b.pk], actor="system:test")


def test_every_write_is_audited_without_secrets(organization):
    integration = make_integration(organization=organization, display_name="A")
    integration_update(integration=integration, config={"sender": "+14155550100"}, actor="system:test")
    for event in AuditEvent.objects.all():
        assert SECRET_API_KEY not in repr(event.before) + repr(event.after) + event.reason
    # The first active integration of the channel became its primary: a switch, audited as one.
    assert set(AuditEvent.objects.values_list("action", flat=True)) == {
        "integration.created", "integration.updated", "provider.promoted"
    }
