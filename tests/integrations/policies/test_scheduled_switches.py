"""Scheduled switches: run once at their time through switch_primary, refused with a reason."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connections
from django.utils import timezone

from audit.models import AuditEvent
from integrations.errors import NotFound, OperationRefused
from integrations.models import OrganizationIntegration, ScheduledSwitch
from integrations.selectors.integrations import primary_integration
from integrations.services.policies import scheduled
from integrations.tasks import run_policy_jobs
from tests.factories import make_integration, make_membership, make_user

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pair(organization):
    make_membership(user=make_user(username="owner"), organization=organization)
    return (make_integration(organization=organization, display_name="Official"),
            make_integration(organization=organization, display_name="Bridge"))


def schedule(organization, target, *, minutes=10, reason="night window"):
    return scheduled.schedule_switch(organization=organization, channel="whatsapp", integration_id=target.pk,
                                     at=timezone.now() + timedelta(minutes=minutes), reason=reason, actor="system:test")


def test_a_due_switch_runs_once_through_switch_primary(organization, pair):
    official, bridge = pair
    row = schedule(organization, bridge)
    assert AuditEvent.objects.filter(action=scheduled.SCHEDULED, target_id=str(row.pk)).count() == 1
    assert scheduled.run_due_switches() == []  # not due yet
    later = row.at + timedelta(seconds=1)
    assert [r.pk for r in scheduled.run_due_switches(now=later)] == [row.pk]
    row.refresh_from_db()
    assert row.status == ScheduledSwitch.Status.DONE and row.detail == "Switched to Bridge."
    assert primary_integration(organization=organization, channel="whatsapp").pk == bridge.pk
    event = AuditEvent.objects.get(action="provider.switched")
    assert event.actor == scheduled.SCHEDULED_ACTOR and str(row.pk) in event.reason and "night window" in event.reason
    assert scheduled.run_due_switches(now=later + timedelta(minutes=1)) == []
    assert AuditEvent.objects.filter(action="provider.switched").count() == 1


def test_an_unusable_target_is_refused_with_the_reason_audited_and_notified(organization, pair):
    official, bridge = pair
    row = schedule(organization, bridge)
    OrganizationIntegration.objects.filter(pk=bridge.pk).update(breaker_open_until=timezone.now() + timedelta(hours=1))
    scheduled.run_due_switches(now=row.at)
    row.refresh_from_db()
    assert row.status == ScheduledSwitch.Status.REFUSED and "circuit breaker open" in row.detail
    assert primary_integration(organization=organization, channel="whatsapp").pk == official.pk
    event = AuditEvent.objects.get(action=scheduled.REFUSED)
    assert event.outcome == "failure" and event.after["detail"] == row.detail
    assert any("was refused" in m.subject for m in mail.outbox)


def test_a_deleted_target_and_a_missed_time_are_refused(organization, pair, settings):
    official, bridge = pair
    gone = make_integration(organization=organization, display_name="Gone")
    row = schedule(organization, gone)
    OrganizationIntegration.objects.filter(pk=gone.pk).delete()
    late = schedule(organization, bridge, minutes=5)
    settings.SCHEDULED_SWITCH_MAX_LATENESS = 600
    scheduled.run_due_switches(now=late.at + timedelta(minutes=11))
    row.refresh_from_db()
    late.refresh_from_db()
    # The earlier one (gone's) is 16 minutes late too: lateness is checked first.
    assert late.status == row.status == ScheduledSwitch.Status.REFUSED
    assert "11 minutes ago" in late.detail
    assert primary_integration(organization=organization, channel="whatsapp").pk == official.pk


def test_the_target_missing_is_refused_when_on_time(organization, pair):
    gone = make_integration(organization=organization, display_name="Gone")
    row = schedule(organization, gone)
    OrganizationIntegration.objects.filter(pk=gone.pk).delete()
    scheduled.run_due_switches(now=row.at)
    row.refresh_from_db()
    assert row.status == ScheduledSwitch.Status.REFUSED and row.detail == "The target integration was deleted."


def test_scheduling_refuses_the_past_another_channel_and_another_tenant(organization, other_organization, pair):
    official, bridge = pair
    voice = make_integration(organization=organization, provider_name="sandbox_voip", display_name="Voice")
    foreign = make_integration(organization=other_organization, display_name="Foreign")
    with pytest.raises(OperationRefused, match="in the future"):
        schedule(organization, bridge, minutes=-1)
    with pytest.raises(OperationRefused, match="not a whatsapp integration"):
        schedule(organization, voice)
    with pytest.raises(NotFound):
        schedule(organization, foreign)
    with pytest.raises(OperationRefused, match="a year ahead"):
        schedule(organization, bridge, minutes=60 * 24 * 400)


def test_cancel_only_a_pending_one(organization, pair):
    official, bridge = pair
    row = schedule(organization, bridge)
    cancelled = scheduled.cancel_scheduled_switch(organization=organization, channel="whatsapp", switch_id=row.pk,
                                                  actor="system:test", reason="not tonight")
    assert cancelled.status == ScheduledSwitch.Status.CANCELLED
    assert AuditEvent.objects.get(action=scheduled.CANCELLED).reason == "not tonight"
    assert scheduled.run_due_switches(now=row.at) == []
    with pytest.raises(OperationRefused, match="only a pending one"):
        scheduled.cancel_scheduled_switch(organization=organization, channel="whatsapp", switch_id=row.pk, actor="x")
    with pytest.raises(NotFound):
        scheduled.cancel_scheduled_switch(organization=organization, channel="voip", switch_id=row.pk, actor="x")


def test_concurrent_runners_switch_exactly_once(organization, pair):
    official, bridge = pair
    rows = [schedule(organization, bridge if i % 2 == 0 else official, minutes=1 + i) for i in range(6)]
    now = rows[-1].at + timedelta(seconds=1)
    start = threading.Barrier(4)
    ran: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def runner():
        try:
            start.wait()
            done = scheduled.run_due_switches(now=now)
            with lock:
                ran.extend(str(r.pk) for r in done)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=runner) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert sorted(ran) == sorted(str(r.pk) for r in rows)  # each run by exactly one runner
    assert set(ScheduledSwitch.objects.values_list("status", flat=True)) == {ScheduledSwitch.Status.DONE}
    # A channel's switches run in time order even with four runners: bridge, official, bridge, …
    # so every one of the six was a real switch, audited once, and the last one's target holds.
    assert AuditEvent.objects.filter(action="provider.switched").count() == 6
    assert primary_integration(organization=organization, channel="whatsapp").pk == rows[-1].target_id


def test_the_beat_task_runs_due_switches(organization, pair):
    official, bridge = pair
    row = schedule(organization, bridge)
    ScheduledSwitch.objects.filter(pk=row.pk).update(at=timezone.now() - timedelta(seconds=1))
    assert run_policy_jobs() == {"switch_done": 1}
    assert primary_integration(organization=organization, channel="whatsapp").pk == bridge.pk


def test_a_switch_that_raises_is_refused_and_does_not_block_the_queue(organization, pair, monkeypatch):
    official, bridge = pair
    broken = schedule(organization, bridge, minutes=1)
    fine = schedule(organization, official, minutes=2)
    calls = {"n": 0}
    real = scheduled.switch_primary

    def explode_once(**kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("a bug")
        return real(**kwargs)

    monkeypatch.setattr(scheduled, "switch_primary", explode_once)
    scheduled.run_due_switches(now=fine.at + timedelta(seconds=1))
    broken.refresh_from_db()
    fine.refresh_from_db()
    assert broken.status == ScheduledSwitch.Status.REFUSED and "internal error: RuntimeError" in broken.detail
    assert fine.status == ScheduledSwitch.Status.DONE
