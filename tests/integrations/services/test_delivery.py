"""Accepting messages and calls: validation, idempotency (also under concurrency), scheduling."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from integrations.errors import IdempotencyKeyReused
from integrations.models import Call, Message
from integrations.services.delivery.intake import place_call, send_message

TO = "+5491155550000"


@pytest.fixture
def published(monkeypatch):
    """Task names and arguments handed to the broker (the broker itself is not under test here)."""
    sent: list[tuple[str, list]] = []
    from celery import current_app

    monkeypatch.setattr(
        current_app, "send_task", lambda name, args=None, kwargs=None, **kw: sent.append((name, list(args or ())))
    )
    return sent


@pytest.mark.django_db(transaction=True)
def test_send_message_stores_queued_row_and_schedules_after_commit(organization, published):
    message, created = send_message(
        organization=organization, channel="whatsapp", to="+54 9 11 5555-0000", body="hello",
        reference="lead-7", actor="system:test",
    )
    assert created is True
    message.refresh_from_db()
    assert message.status == Message.Status.QUEUED
    assert message.to == TO
    assert message.reference == "lead-7"
    assert published == [("integrations.tasks.deliver_message", [str(message.pk)])]


@pytest.mark.django_db(transaction=True)
def test_nothing_is_scheduled_when_the_callers_transaction_rolls_back(organization, published):
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        send_message(organization=organization, channel="whatsapp", to=TO, body="x", actor="system:test")
        raise RuntimeError("request failed later")
    assert published == []
    assert not Message.objects.for_org(organization).exists()


@pytest.mark.django_db
def test_invalid_input_is_refused_with_field_errors(organization, published):
    with pytest.raises(ValidationError) as info:
        send_message(organization=organization, channel="voip", to="12345", body="", actor="system:test")
    errors = info.value.message_dict
    assert set(errors) == {"channel", "to", "body"}
    with pytest.raises(ValidationError) as info:
        send_message(
            organization=organization, channel="whatsapp", to=TO, body="",
            attachments=[{"url": "ftp://x/y.png"}], actor="system:test",
        )
    assert "attachments" in info.value.message_dict
    assert not Message.objects.for_org(organization).exists()


@pytest.mark.django_db(transaction=True)
def test_same_key_returns_the_stored_message_and_schedules_nothing(organization, other_organization, published):
    first, created = send_message(
        organization=organization, channel="whatsapp", to=TO, body="one", idempotency_key="k-1", actor="system:test"
    )
    again, created_again = send_message(
        organization=organization, channel="whatsapp", to=TO, body="one", idempotency_key="k-1", actor="system:test"
    )
    assert created and not created_again
    assert again.pk == first.pk
    assert len(published) == 1
    # Keys are per organization: another tenant's identical key is a different message.
    theirs, created_theirs = send_message(
        organization=other_organization, channel="whatsapp", to=TO, body="one", idempotency_key="k-1", actor="system:test"
    )
    assert created_theirs and theirs.pk != first.pk


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_make_one_message(organization, published):
    barrier = threading.Barrier(2)
    results: list[tuple] = []
    errors: list[BaseException] = []

    def request():
        try:
            barrier.wait(timeout=5)
            results.append(
                send_message(
                    organization=organization, channel="whatsapp", to=TO, body="race",
                    idempotency_key="same-key", actor="system:test",
                )
            )
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=request) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert errors == []
    assert len(results) == 2
    assert sorted(created for _, created in results) == [False, True]
    assert results[0][0].pk == results[1][0].pk
    assert Message.objects.for_org(organization).filter(idempotency_key="same-key").count() == 1
    assert len(published) == 1


@pytest.mark.django_db(transaction=True)
def test_place_call_validates_and_is_idempotent(organization, published):
    with pytest.raises(ValidationError) as info:
        place_call(organization=organization, to="not a number", from_number="123", actor="system:test")
    assert set(info.value.message_dict) == {"to", "from_number"}

    call, created = place_call(
        organization=organization, to=TO, from_number="+14155550100", twiml="<Response/>",
        idempotency_key="c-1", actor="system:test",
    )
    again, created_again = place_call(organization=organization, to=TO, from_number="+14155550100", twiml="<Response/>",
                                      idempotency_key="c-1", actor="system:test")
    assert created and not created_again and again.pk == call.pk
    # The same key for another request is refused (tests/security/test_api_inputs.py).
    with pytest.raises(IdempotencyKeyReused):
        place_call(organization=organization, to=TO, idempotency_key="c-1", actor="system:test")
    assert call.status == Call.Status.QUEUED and call.from_number == "+14155550100"
    assert published == [("integrations.tasks.deliver_call", [str(call.pk)])]


@pytest.mark.django_db(transaction=True)
def test_broker_outage_keeps_the_message_queued_and_says_so(organization, monkeypatch, caplog):
    from celery import current_app

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(current_app, "send_task", broker_down)
    message, created = send_message(organization=organization, channel="whatsapp", to=TO, body="hi", actor="system:test")
    assert created
    message.refresh_from_db()
    assert message.status == Message.Status.QUEUED
    assert "Celery broker unreachable" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_eager_celery_delivers_in_process(organization):
    """The embedded default (`make run`) has no worker: eager Celery must deliver at commit."""
    from celery import current_app

    from providers import sandbox
    from tests.factories import make_integration

    make_integration(organization=organization, display_name="Sandbox")
    was_eager = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = True
    try:
        message, _ = send_message(organization=organization, channel="whatsapp", to=TO, body="eager", actor="system:test")
    finally:
        current_app.conf.task_always_eager = was_eager
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert [record["body"] for record in sandbox.outbox] == ["eager"]
