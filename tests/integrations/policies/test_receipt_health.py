"""Receipt-aware health: a primary whose recent messages lack delivery receipts is failed over."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from integrations.models import Message
from integrations.selectors.integrations import primary_integration
from integrations.services import health
from tests.factories import make_integration, make_membership, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def channel(organization, settings):
    settings.HEALTH_RECEIPT_MIN_SAMPLE = 5
    settings.HEALTH_RECEIPT_MAX_MISSING_RATE = 0.5
    organization.auto_failover = True
    organization.save(update_fields=["auto_failover"])
    make_membership(user=make_user(username="owner"), organization=organization)
    primary = make_integration(organization=organization, display_name="Official")
    fallback = make_integration(organization=organization, display_name="Bridge")
    sent_at = timezone.now() - timedelta(minutes=5)
    for i in range(8):
        Message.objects.create(organization=organization, channel="whatsapp", to=f"+1415555{i:04d}", body="x",
                               integration=primary, status=Message.Status.SENT, sent_at=sent_at,
                               delivered_at=sent_at + timedelta(seconds=5) if i < 2 else None)
    return primary, fallback


def test_missing_receipts_fail_the_primary_over_when_watched(organization, channel, settings):
    primary, fallback = channel
    settings.HEALTH_RECEIPT_TIMEOUT_SECONDS = 120
    health.run_health_checks(organization=organization)
    assert primary_integration(organization=organization, channel="whatsapp").pk == fallback.pk
    reason = AuditEvent.objects.get(action="provider.failover").reason
    assert "6 of 8 recent messages without a delivery receipt" in reason


def test_receipts_are_not_judged_when_the_timeout_is_off_or_not_reached(organization, channel, settings):
    primary, fallback = channel
    settings.HEALTH_RECEIPT_TIMEOUT_SECONDS = 0
    health.run_health_checks(organization=organization)
    assert primary_integration(organization=organization, channel="whatsapp").pk == primary.pk
    settings.HEALTH_RECEIPT_TIMEOUT_SECONDS = 600  # the messages are 5 minutes old: not judged yet
    health.run_health_checks(organization=organization)
    assert primary_integration(organization=organization, channel="whatsapp").pk == primary.pk
