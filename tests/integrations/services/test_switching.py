import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from integrations.errors import SwitchRefused
from integrations.models import OrganizationIntegration
from integrations.services import switching
from integrations.services.switching import switch_primary
from tests.factories import make_integration, make_user

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pair(organization):
    old = make_integration(organization=organization, display_name="Old")
    new = make_integration(organization=organization, display_name="New")
    return old, new


def primaries(organization, channel="whatsapp"):
    return list(
        OrganizationIntegration.objects.filter(organization=organization, channel=channel, is_primary=True)
        .values_list("display_name", flat=True)
    )


def test_switch_clears_old_sets_new_and_audits(organization, pair):
    old, new = pair
    user = make_user()
    result = switch_primary(organization=organization, channel="whatsapp", target=new, actor=user, reason="cheaper")
    assert result.switched is True
    assert result.previous.pk == old.pk and result.current.pk == new.pk
    assert primaries(organization) == ["New"]
    events = list(AuditEvent.objects.filter(action="provider.switched"))
    assert len(events) == 1
    event = events[0]
    assert event.actor == f"user:{user.username}"
    assert event.reason == "cheaper"
    assert event.before["primary"]["id"] == str(old.pk)
    assert event.after["primary"]["id"] == str(new.pk)
    assert event.organization_id == organization.pk
    assert result.audit_event.pk == event.pk


def test_switch_to_current_primary_is_a_noop_success(organization, pair):
    old, _ = pair
    result = switch_primary(organization=organization, channel="whatsapp", target=old.pk, actor="system:test")
    assert result.switched is False and result.current.pk == old.pk
    assert primaries(organization) == ["Old"]
    assert not AuditEvent.objects.filter(action="provider.switched").exists()


def test_refuses_target_of_another_organization(organization, other_organization, pair):
    foreign = make_integration(organization=other_organization, display_name="Foreign")
    with pytest.raises(SwitchRefused, match="is not a whatsapp integration of Acme"):
        switch_primary(organization=organization, channel="whatsapp", target=foreign, actor="system:test")
    assert primaries(organization) == ["Old"]
    assert primaries(other_organization) == ["Foreign"]


def test_refuses_target_of_another_channel(organization, pair):
    voip = make_integration(organization=organization, provider_name="sandbox_voip", display_name="Voice")
    with pytest.raises(SwitchRefused, match="not a whatsapp integration"):
        switch_primary(organization=organization, channel="whatsapp", target=voip, actor="system:test")
    assert primaries(organization) == ["Old"]


@pytest.mark.parametrize("status", ["inactive", "pending", "error"])
def test_refuses_unusable_target(organization, pair, status):
    target = make_integration(organization=organization, display_name="Broken", status=status)
    with pytest.raises(SwitchRefused, match="only an active integration can be primary") as excinfo:
        switch_primary(organization=organization, channel="whatsapp", target=target, actor="system:test")
    assert excinfo.value.code == "target_unusable"
    assert primaries(organization) == ["Old"]
    assert not AuditEvent.objects.filter(action="provider.switched").exists()


def test_refuses_target_whose_breaker_is_open(organization, pair):
    _, new = pair
    OrganizationIntegration.objects.filter(pk=new.pk).update(breaker_open_until=timezone.now() + timedelta(minutes=5))
    with pytest.raises(SwitchRefused, match="circuit breaker open"):
        switch_primary(organization=organization, channel="whatsapp", target=new, actor="system:test")
    assert primaries(organization) == ["Old"]


@pytest.mark.parametrize("target", [uuid.uuid4(), "not-a-uuid"])
def test_refuses_unknown_target(organization, pair, target):
    with pytest.raises(SwitchRefused) as excinfo:
        switch_primary(organization=organization, channel="whatsapp", target=target, actor="system:test")
    assert excinfo.value.code == "unknown_integration"
    assert primaries(organization) == ["Old"]


def test_failure_mid_switch_rolls_back(organization, pair, monkeypatch):
    _, new = pair

    def explode(**kwargs):
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(switching.audit, "record", explode)
    with pytest.raises(RuntimeError, match="audit store unavailable"):
        switch_primary(organization=organization, channel="whatsapp", target=new, actor="system:test")
    assert primaries(organization) == ["Old"]
    assert OrganizationIntegration.objects.get(pk=new.pk).is_primary is False
