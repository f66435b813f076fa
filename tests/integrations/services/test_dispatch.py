"""One delivery, in process: claim, route at send time, fail over, record, defer, fail, reconcile.

The service is called directly (what the Celery task does); real worker processes are in
tests/integrations/test_pipeline.py.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from integrations.models import Call, Message
from integrations.services.delivery import dispatch, sweeper
from integrations.services.switching import switch_primary
from providers import sandbox
from tests.factories import make_integration, make_membership, make_user

TO = "+5491155550000"
DOWN = {"failure_rate": 1, "failure_mode": "unavailable"}


def queued_message(organization, **fields) -> Message:
    return Message.objects.create(organization=organization, channel="whatsapp", to=TO, body="hi", **fields)


@pytest.fixture
def fast_settings(settings):
    settings.DELIVERY_MAX_RETRIES = 2
    settings.BREAKER_FAILURE_THRESHOLD = 50
    return settings


@pytest.mark.django_db
def test_primary_sends_and_the_row_records_integration_cost_and_latency(organization, fast_settings):
    primary = make_integration(organization=organization, display_name="Primary", config={"label": "p"})
    make_integration(organization=organization, display_name="Fallback", config={"label": "f"})
    message = queued_message(organization)

    outcome = dispatch.deliver_message(message_id=message.pk)

    message.refresh_from_db()
    assert outcome.status == dispatch.DELIVERED
    assert message.status == Message.Status.SENT
    assert message.integration_id == primary.pk and message.provider_name == "sandbox_whatsapp"
    assert message.provider_message_id.startswith("sbx-")
    assert (message.cost, message.currency, message.cost_source) == (Decimal("0.005"), "USD", "catalog")
    assert message.latency_ms is not None and message.sent_at is not None and message.lease_expires_at is None
    assert [a["outcome"] for a in message.attempts] == ["sent"]
    assert [r["label"] for r in sandbox.outbox] == ["p"]
    assert sandbox.outbox[0]["client_reference"] == str(message.pk)


@pytest.mark.django_db
def test_catalog_price_honours_the_integrations_override(organization, fast_settings):
    make_integration(organization=organization, config={"pricing": {"unit_price": "0.0123", "currency": "eur"}})
    message = queued_message(organization)
    dispatch.deliver_message(message_id=message.pk)
    message.refresh_from_db()
    assert (message.cost, message.currency, message.cost_source) == (Decimal("0.0123"), "EUR", "catalog")


@pytest.mark.django_db
def test_a_retryable_failure_fails_over_and_both_attempts_are_recorded(organization, fast_settings):
    primary = make_integration(organization=organization, display_name="Primary", config={"label": "p", **DOWN})
    fallback = make_integration(organization=organization, display_name="Fallback", config={"label": "f"})
    message = queued_message(organization)

    dispatch.deliver_message(message_id=message.pk)

    message.refresh_from_db()
    assert message.status == Message.Status.SENT and message.integration_id == fallback.pk
    assert [(a["integration"], a["outcome"]) for a in message.attempts] == [
        (str(primary.pk), "unavailable"), (str(fallback.pk), "sent"),
    ]
    assert message.attempts[0]["error_code"] == "sandbox_503"
    primary.refresh_from_db()
    assert primary.consecutive_failures == 1


@pytest.mark.django_db
def test_a_recipient_rejection_fails_at_once_without_trying_fallbacks(
    organization, fast_settings, django_capture_on_commit_callbacks
):
    make_membership(user=make_user(username="boss"), organization=organization)
    make_integration(organization=organization, config={"label": "p", "failure_rate": 1, "failure_mode": "rejected_recipient"})
    make_integration(organization=organization, config={"label": "f"})
    message = queued_message(organization)

    with django_capture_on_commit_callbacks(execute=True):
        outcome = dispatch.deliver_message(message_id=message.pk)

    message.refresh_from_db()
    assert outcome.status == dispatch.FAILED
    assert message.status == Message.Status.FAILED and message.error_code == "sandbox_recipient"
    assert [a["outcome"] for a in message.attempts] == ["rejected"]
    assert sandbox.outbox == []
    assert mail.outbox == []  # the caller's mistake, not an incident


@pytest.mark.django_db
def test_a_provider_tied_rejection_fails_over(organization, fast_settings):
    make_integration(organization=organization, config={"label": "p", "failure_rate": 1, "failure_mode": "rejected_provider"})
    fallback = make_integration(organization=organization, config={"label": "f"})
    message = queued_message(organization)
    dispatch.deliver_message(message_id=message.pk)
    message.refresh_from_db()
    assert message.integration_id == fallback.pk
    assert [a["outcome"] for a in message.attempts] == ["rejected", "sent"]


@pytest.mark.django_db
def test_only_provider_tied_rejections_fail_without_retrying(organization, fast_settings):
    make_integration(organization=organization, config={"failure_rate": 1, "failure_mode": "rejected_provider"})
    message = queued_message(organization)
    assert dispatch.deliver_message(message_id=message.pk).status == dispatch.FAILED
    message.refresh_from_db()
    assert message.retry_count == 0 and message.status == Message.Status.FAILED


@pytest.mark.django_db
def test_all_down_defers_then_fails_after_the_last_retry_and_notifies_admins(
    organization, fast_settings, django_capture_on_commit_callbacks
):
    make_membership(user=make_user(username="boss"), organization=organization)
    make_integration(organization=organization, display_name="A", config=DOWN)
    make_integration(organization=organization, display_name="B", config=DOWN)
    message = queued_message(organization)

    for expected_retry_count in (1, 2):
        with pytest.raises(dispatch.DeliveryDeferred):
            dispatch.deliver_message(message_id=message.pk)
        message.refresh_from_db()
        assert message.status == Message.Status.QUEUED and message.retry_count == expected_retry_count
        assert message.lease_expires_at > timezone.now()  # the sweeper leaves it to the retry
    with django_capture_on_commit_callbacks(execute=True):
        outcome = dispatch.deliver_message(message_id=message.pk)

    message.refresh_from_db()
    assert outcome.status == dispatch.FAILED and message.status == Message.Status.FAILED
    assert message.error.startswith("Gave up after 3 rounds") and "A:" in message.error and "B:" in message.error
    assert [(a["round"], a["outcome"]) for a in message.attempts] == [
        (1, "unavailable"), (1, "unavailable"), (2, "unavailable"), (2, "unavailable"), (3, "unavailable"), (3, "unavailable"),
    ]
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["boss@example.com"]
    assert "failed" in mail.outbox[0].subject


@pytest.mark.django_db
def test_an_empty_route_is_retried_not_dropped(organization, fast_settings):
    message = queued_message(organization)
    with pytest.raises(dispatch.DeliveryDeferred):
        dispatch.deliver_message(message_id=message.pk)
    message.refresh_from_db()
    assert message.status == Message.Status.QUEUED and message.attempts[0]["outcome"] == "no_route"


@pytest.mark.django_db
def test_the_route_is_resolved_at_send_time(organization, fast_settings):
    make_integration(organization=organization, display_name="Old", config={"label": "old"})
    new = make_integration(organization=organization, display_name="New", config={"label": "new"})
    message = queued_message(organization)  # queued while "Old" was primary
    switch_primary(organization=organization, channel="whatsapp", target=new, actor="system:test")
    dispatch.deliver_message(message_id=message.pk)
    message.refresh_from_db()
    assert message.integration_id == new.pk


@pytest.mark.django_db
def test_a_sent_or_held_row_is_never_sent_again(organization, fast_settings):
    make_integration(organization=organization)
    message = queued_message(organization)
    dispatch.deliver_message(message_id=message.pk)
    assert dispatch.deliver_message(message_id=message.pk).status == dispatch.NOT_CLAIMED
    held = queued_message(organization, status=Message.Status.SENDING, lease_expires_at=timezone.now() + timedelta(minutes=1))
    assert dispatch.deliver_message(message_id=held.pk).status == dispatch.NOT_CLAIMED
    assert len(sandbox.outbox) == 1


@pytest.mark.django_db
def test_an_in_doubt_row_already_taken_by_the_provider_is_reconciled_not_resent(organization, fast_settings):
    integration = make_integration(organization=organization, config={"label": "p"})
    message = queued_message(organization)
    # A worker sent it and died before recording: the provider has it, the row says sending.
    from providers.values import OutboundMessage

    integration.adapter().send_message(OutboundMessage(to=TO, body="hi", client_reference=str(message.pk)))
    Message.objects.filter(pk=message.pk).update(status=Message.Status.SENDING, lease_expires_at=timezone.now() - timedelta(seconds=1))

    outcome = dispatch.deliver_message(message_id=message.pk)

    message.refresh_from_db()
    assert outcome.detail == "reconciled" and message.status == Message.Status.SENT
    assert message.provider_message_id == sandbox.outbox[0]["provider_id"]
    assert len(sandbox.outbox) == 1
    assert message.attempts[-1]["outcome"] == "reconciled"


@pytest.mark.django_db
def test_an_in_doubt_row_the_provider_never_got_is_sent(organization, fast_settings):
    make_integration(organization=organization)
    message = queued_message(organization, status=Message.Status.SENDING, lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert dispatch.deliver_message(message_id=message.pk).status == dispatch.DELIVERED
    assert len(sandbox.outbox) == 1


@pytest.mark.django_db
def test_a_call_is_placed_through_the_voip_route(organization, fast_settings):
    make_integration(organization=organization, provider_name="sandbox_voip", display_name="Voice", config=DOWN)
    second = make_integration(organization=organization, provider_name="sandbox_voip", display_name="Voice 2")
    call = Call.objects.create(organization=organization, to=TO, from_number="+14155550100")
    assert dispatch.deliver_call(call_id=call.pk).status == dispatch.DELIVERED
    call.refresh_from_db()
    assert call.status == Call.Status.INITIATED and call.integration_id == second.pk
    assert call.provider_call_id.startswith("sbx-") and call.started_at is not None
    assert [a["outcome"] for a in call.attempts] == ["unavailable", "sent"]
    assert call.cost is None  # known only when the call ends


@pytest.mark.django_db
def test_the_sweeper_requeues_expired_leases_and_forgotten_rows_once(
    organization, fast_settings, monkeypatch, django_capture_on_commit_callbacks
):
    from celery import current_app

    published = []
    # Messages are queued again in batch tasks: one task carries a list of ids.
    monkeypatch.setattr(current_app, "send_task", lambda name, args=None, kwargs=None, **kw: published.extend(args[0]))
    now = timezone.now()
    expired = queued_message(organization, status=Message.Status.SENDING, lease_expires_at=now - timedelta(seconds=5))
    forgotten = queued_message(organization, created_at=now - timedelta(hours=1))
    queued_message(organization)  # fresh: its task is on its way
    queued_message(organization, status=Message.Status.SENDING, lease_expires_at=now + timedelta(minutes=1))
    queued_message(organization, status=Message.Status.SENT)

    with django_capture_on_commit_callbacks(execute=True):
        assert sweeper.sweep_stalled(now=now) == {"message": 2, "call": 0}
    assert sorted(published) == sorted([str(expired.pk), str(forgotten.pk)])
    # The forgotten row got a new horizon; the expired lease stays expired so a claim can take it.
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert sweeper.sweep_stalled(now=now) == {"message": 1, "call": 0}
    assert published == [str(expired.pk)]


@pytest.mark.django_db
def test_delivery_works_when_redis_is_unreachable(organization, fast_settings, settings, caplog):
    primary = make_integration(organization=organization, config={"label": "p"})
    message = queued_message(organization)
    # Nothing listens on port 1: every cache call fails fast, routing falls back to PostgreSQL.
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }
    assert dispatch.deliver_message(message_id=message.pk).status == dispatch.DELIVERED
    message.refresh_from_db()
    assert message.status == Message.Status.SENT and message.integration_id == primary.pk
