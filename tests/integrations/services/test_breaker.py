"""The circuit breaker: opens after N retryable failures, skips, lets one probe through, closes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from audit.models import AuditEvent
from integrations.models import Message, OrganizationIntegration
from integrations.services.delivery import breaker, dispatch
from tests.factories import make_integration, make_membership, make_user

TO = "+5491155550000"


@pytest.fixture
def breaker_settings(settings):
    settings.BREAKER_FAILURE_THRESHOLD = 3
    settings.BREAKER_COOLDOWN_SECONDS = 30
    settings.BREAKER_PROBE_SECONDS = 10
    settings.DELIVERY_MAX_RETRIES = 0
    return settings


def deliver(organization) -> Message:
    message = Message.objects.create(organization=organization, channel="whatsapp", to=TO, body="hi")
    dispatch.deliver_message(message_id=message.pk)
    message.refresh_from_db()
    return message


@pytest.mark.django_db
def test_breaker_opens_skips_half_opens_and_closes(organization, breaker_settings, django_capture_on_commit_callbacks):
    make_membership(user=make_user(username="ops"), organization=organization)
    primary = make_integration(organization=organization, display_name="Flaky",
                               config={"label": "flaky", "failure_rate": 1})
    fallback = make_integration(organization=organization, display_name="Steady", config={"label": "steady"})

    # N consecutive retryable failures open it; each message still goes out through the fallback.
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            assert deliver(organization).integration_id == fallback.pk
    assert [m.subject for m in mail.outbox] == ["[Switchboard] Acme: Flaky (sandbox_whatsapp) is failing: circuit breaker open"]
    primary.refresh_from_db()
    assert primary.consecutive_failures == 3
    assert breaker.breaker_state(integration=primary) == breaker.BreakerState.OPEN
    opened = AuditEvent.objects.for_org(organization).filter(action="integration.breaker_opened")
    assert opened.count() == 1 and opened.get().target_id == str(primary.pk)

    # Open: the primary is skipped without being called.
    message = deliver(organization)
    assert [a["outcome"] for a in message.attempts] == ["skipped_breaker", "sent"]
    primary.refresh_from_db()
    assert primary.consecutive_failures == 3

    # After the cooldown it is half-open: exactly one caller gets the probe.
    later = timezone.now() + timedelta(seconds=31)
    primary.refresh_from_db()
    assert breaker.breaker_state(integration=primary, now=later) == breaker.BreakerState.HALF_OPEN
    first = OrganizationIntegration.objects.get(pk=primary.pk)
    second = OrganizationIntegration.objects.get(pk=primary.pk)
    assert breaker.breaker_allows(integration=first, now=later) is True
    assert breaker.breaker_allows(integration=second, now=later) is False

    # A failed probe opens it again for a whole cooldown, with no second "opened" event.
    assert breaker.record_failure(integration=first, now=later) is False
    assert first.breaker_open_until == later + timedelta(seconds=30)
    assert opened.count() == 1

    # The provider recovers; after the next cooldown the probe succeeds and closes the breaker.
    OrganizationIntegration.objects.filter(pk=primary.pk).update(
        config={"label": "flaky"}, breaker_open_until=timezone.now() - timedelta(seconds=1)
    )
    message = deliver(organization)
    assert message.integration_id == primary.pk
    assert [a["outcome"] for a in message.attempts] == ["sent"]
    primary.refresh_from_db()
    assert primary.consecutive_failures == 0 and primary.breaker_open_until is None
    assert breaker.breaker_state(integration=primary) == breaker.BreakerState.CLOSED
    assert AuditEvent.objects.for_org(organization).filter(action="integration.breaker_closed").count() == 1


@pytest.mark.django_db
def test_a_success_before_the_threshold_resets_the_count(organization, breaker_settings):
    integration = make_integration(organization=organization)
    for _ in range(2):
        breaker.record_failure(integration=integration)
    assert breaker.record_success(integration=integration) is False  # it never opened
    integration.refresh_from_db()
    assert integration.consecutive_failures == 0
    breaker.record_failure(integration=integration)
    assert breaker.breaker_state(integration=integration) == breaker.BreakerState.CLOSED


@pytest.mark.django_db
def test_rejections_do_not_count_towards_the_breaker(organization, breaker_settings):
    primary = make_integration(organization=organization,
                               config={"failure_rate": 1, "failure_mode": "rejected_provider"})
    make_integration(organization=organization)
    for _ in range(4):
        deliver(organization)
    primary.refresh_from_db()
    assert primary.consecutive_failures == 0 and primary.breaker_open_until is None


@pytest.mark.django_db
def test_with_every_breaker_open_the_message_waits_for_a_retry(organization, settings, breaker_settings):
    settings.DELIVERY_MAX_RETRIES = 3
    only = make_integration(organization=organization)
    OrganizationIntegration.objects.filter(pk=only.pk).update(
        consecutive_failures=3, breaker_open_until=timezone.now() + timedelta(seconds=30)
    )
    message = Message.objects.create(organization=organization, channel="whatsapp", to=TO, body="hi")
    with pytest.raises(dispatch.DeliveryDeferred):
        dispatch.deliver_message(message_id=message.pk)
    message.refresh_from_db()
    assert message.status == "queued" and message.attempts[0]["outcome"] == "skipped_breaker"


@pytest.mark.django_db
def test_the_breaker_is_shared_through_the_database(organization, breaker_settings):
    """Two workers hold their own copies of the row; failures recorded by each add up."""
    integration = make_integration(organization=organization)
    worker_a = OrganizationIntegration.objects.get(pk=integration.pk)
    worker_b = OrganizationIntegration.objects.get(pk=integration.pk)
    breaker.record_failure(integration=worker_a)
    breaker.record_failure(integration=worker_b)
    assert breaker.record_failure(integration=worker_a) is True
    fresh = OrganizationIntegration.objects.get(pk=integration.pk)
    assert fresh.consecutive_failures == 3 and fresh.breaker_is_open()
