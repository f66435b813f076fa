"""Rollouts: traffic moves in steps, a breach rolls it back, 100 % switches the primary."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from audit.models import AuditEvent
from integrations.errors import NotFound, OperationRefused
from integrations.models import ChannelPolicy, Message, OrganizationIntegration, Rollout
from integrations.selectors.integrations import primary_integration
from integrations.selectors.policies import integration_attempt_stats, policy_get
from integrations.services.delivery import dispatch, intake
from integrations.services.policies import rollouts
from integrations.services.policies.channel_policy import set_policy
from integrations.services.routing import invalidate_route
from integrations.services.switching import switch_primary
from integrations.tasks import run_policy_jobs
from tests.factories import make_integration, make_membership, make_user

pytestmark = pytest.mark.django_db(transaction=True)

DOWN = {"failure_rate": 1, "failure_mode": "unavailable"}


@pytest.fixture
def pair(organization):
    make_membership(user=make_user(username="owner"), organization=organization)
    return (make_integration(organization=organization, display_name="Bridge", config={"label": "bridge"}),
            make_integration(organization=organization, display_name="Official", config={"label": "official"}))


def start(organization, target, **overrides):
    options = {"steps": [10, 50, 100], "step_seconds": 60, "max_failure_rate": 0.05, "min_sample": 5}
    options.update(overrides)
    return rollouts.start_rollout(organization=organization, channel="whatsapp", integration_id=target.pk,
                                  actor="system:test", reason="move to the official API", **options)


def send(organization, count, *, offset=0):
    sent = []
    for i in range(count):
        message, _ = intake.send_message(organization=organization, channel="whatsapp", to=f"+5511970{offset + i:06d}",
                                         body="hi", actor="system:test")
        dispatch.deliver_message(message_id=message.pk)
        message.refresh_from_db()
        sent.append(message)
    return sent


def tick(rollout, seconds):
    rollouts.advance_rollouts(now=rollout.step_started_at + timedelta(seconds=seconds))
    rollout.refresh_from_db()
    return rollout


def test_a_rollout_moves_in_steps_and_switches_at_100(organization, pair):
    bridge, official = pair
    rollout = start(organization, official)
    policy = policy_get(organization=organization, channel="whatsapp")
    assert policy.mode == "split" and policy.weights == {str(bridge.pk): 90, str(official.pk): 10}
    assert tick(rollout, 30).step_index == 0  # held: its time has not come
    rollout = tick(rollout, 61)
    assert (rollout.step_index, rollout.share, rollout.status) == (1, 50, "running")
    assert policy_get(organization=organization, channel="whatsapp").weights == {str(bridge.pk): 50, str(official.pk): 50}
    sent = send(organization, 60)
    carried = sum(1 for m in sent if m.integration_id == official.pk)
    assert all(m.status == Message.Status.SENT for m in sent) and 10 <= carried <= 50
    rollout = tick(rollout, 61)
    assert rollout.status == Rollout.Status.COMPLETED and rollout.share == 100
    assert primary_integration(organization=organization, channel="whatsapp").pk == official.pk
    assert policy_get(organization=organization, channel="whatsapp").mode == ChannelPolicy.Mode.PRIMARY
    assert AuditEvent.objects.get(action="provider.switched").actor == rollouts.ROLLOUT_ACTOR
    actions = list(AuditEvent.objects.filter(action__startswith="rollout.").order_by("created_at").values_list("action", flat=True))
    assert actions == [rollouts.STARTED, rollouts.ADVANCED, rollouts.COMPLETED]
    assert [entry["event"] for entry in rollout.log] == ["started", "held", "advanced", "completed"]
    assert send(organization, 5, offset=100)[0].integration_id == official.pk


def test_a_failing_target_is_rolled_back_and_nothing_is_lost(organization, pair, settings):
    settings.BREAKER_FAILURE_THRESHOLD = 1000  # the failure rate, not the breaker, is what this tests
    bridge, official = pair
    rollout = start(organization, official, steps=[50, 100])
    OrganizationIntegration.objects.filter(pk=official.pk).update(config={"label": "official", **DOWN})
    invalidate_route(organization_id=organization.pk, channel="whatsapp")
    sent = send(organization, 40)
    # Every message the official API failed fell back to the bridge: all sent, none lost.
    assert all(m.status == Message.Status.SENT and m.integration_id == bridge.pk for m in sent)
    stats = integration_attempt_stats(organization=organization, channel="whatsapp", integration_id=official.pk,
                                      since=rollout.step_started_at)
    assert stats.attempts == stats.failures >= 5
    rollout = tick(rollout, 5)  # a breach does not wait for the step's end
    assert rollout.status == Rollout.Status.ROLLED_BACK and rollout.share == 0
    assert f"{stats.failures} of {stats.attempts} attempts failed at 50%" in rollout.detail
    assert policy_get(organization=organization, channel="whatsapp").mode == ChannelPolicy.Mode.PRIMARY
    assert primary_integration(organization=organization, channel="whatsapp").pk == bridge.pk
    event = AuditEvent.objects.get(action=rollouts.ROLLED_BACK)
    assert event.outcome == "failure" and event.after["share"] == 0
    assert any("rolled back" in m.subject for m in mail.outbox)


def test_too_few_attempts_do_not_judge_and_a_quiet_step_advances_on_time(organization, pair, settings):
    settings.BREAKER_FAILURE_THRESHOLD = 1000
    bridge, official = pair
    rollout = start(organization, official, steps=[50, 100], min_sample=1000)
    OrganizationIntegration.objects.filter(pk=official.pk).update(config={"label": "official", **DOWN})
    invalidate_route(organization_id=organization.pk, channel="whatsapp")
    send(organization, 10)
    assert tick(rollout, 5).status == Rollout.Status.RUNNING
    OrganizationIntegration.objects.filter(pk=official.pk).update(config={"label": "official"})
    invalidate_route(organization_id=organization.pk, channel="whatsapp")
    assert tick(rollout, 61).status == Rollout.Status.COMPLETED


def test_an_open_breaker_or_an_inactive_target_rolls_back(organization, pair):
    bridge, official = pair
    rollout = start(organization, official)
    OrganizationIntegration.objects.filter(pk=official.pk).update(breaker_open_until=timezone.now() + timedelta(minutes=5))
    assert "circuit breaker" in tick(rollout, 1).detail
    OrganizationIntegration.objects.filter(pk=official.pk).update(breaker_open_until=None)
    rollout = start(organization, official)
    OrganizationIntegration.objects.filter(pk=official.pk).update(status=OrganizationIntegration.Status.INACTIVE)
    assert tick(rollout, 1).detail == "The target is no longer active."


def test_a_manual_switch_cancels_it_and_the_policy_is_locked_while_it_runs(organization, pair):
    bridge, official = pair
    third = make_integration(organization=organization, display_name="Third")
    rollout = start(organization, official)
    with pytest.raises(OperationRefused, match="cancel it before"):
        set_policy(organization=organization, channel="whatsapp", mode="primary", actor="system:test")
    switch_primary(organization=organization, channel="whatsapp", target=third, actor="system:test")
    rollout = tick(rollout, 1)
    assert rollout.status == Rollout.Status.CANCELLED and "primary changed" in rollout.detail
    assert policy_get(organization=organization, channel="whatsapp").mode == ChannelPolicy.Mode.PRIMARY


def test_cancel_restores_the_policy_and_keeps_the_primary(organization, pair):
    bridge, official = pair
    set_policy(organization=organization, channel="whatsapp", mode="primary", actor="system:test",
               rules=[{"tag": "internal", "integration_id": str(bridge.pk)}])
    rollout = start(organization, official)
    assert policy_get(organization=organization, channel="whatsapp").rules[0]["tag"] == "internal"
    cancelled = rollouts.cancel_rollout(organization=organization, channel="whatsapp", rollout_id=rollout.pk,
                                        actor="system:test", reason="not now")
    assert cancelled.status == Rollout.Status.CANCELLED
    policy = policy_get(organization=organization, channel="whatsapp")
    assert policy.mode == "primary" and policy.rules == [{"tag": "internal", "integration_id": str(bridge.pk)}]
    assert primary_integration(organization=organization, channel="whatsapp").pk == bridge.pk
    with pytest.raises(OperationRefused, match="only a running one"):
        rollouts.cancel_rollout(organization=organization, channel="whatsapp", rollout_id=rollout.pk, actor="x")
    with pytest.raises(NotFound):
        rollouts.cancel_rollout(organization=organization, channel="voip", rollout_id=rollout.pk, actor="x")


def test_start_refuses_what_cannot_roll_out(organization, other_organization, pair):
    bridge, official = pair
    foreign = make_integration(organization=other_organization, display_name="Foreign")
    for steps in ([50, 10, 100], [10, 50], [0, 100], [10, 10, 100], []):
        with pytest.raises(ValidationError, match="Steps are"):
            start(organization, official, steps=steps)
    with pytest.raises(ValidationError, match="failure rate"):
        start(organization, official, max_failure_rate=1.5)
    with pytest.raises(OperationRefused, match="already primary"):
        start(organization, bridge)
    with pytest.raises(NotFound):
        start(organization, foreign)
    set_policy(organization=organization, channel="whatsapp", mode="split", actor="system:test",
               weights={str(bridge.pk): 50, str(official.pk): 50})
    with pytest.raises(OperationRefused, match="weighted split"):
        start(organization, official)
    set_policy(organization=organization, channel="whatsapp", mode="primary", actor="system:test")
    start(organization, official)
    with pytest.raises(OperationRefused, match="already running"):
        start(organization, official)


def test_a_single_100_step_is_a_switch_and_beat_ticks_rollouts(organization, pair):
    bridge, official = pair
    rollout = start(organization, official, steps=[100])
    assert rollout.status == Rollout.Status.COMPLETED
    assert primary_integration(organization=organization, channel="whatsapp").pk == official.pk
    rollout = start(organization, bridge, steps=[20, 100], step_seconds=10)
    Rollout.objects.filter(pk=rollout.pk).update(step_started_at=timezone.now() - timedelta(seconds=11))
    assert run_policy_jobs() == {"rollout_completed": 1}
    assert primary_integration(organization=organization, channel="whatsapp").pk == bridge.pk


def test_missing_delivery_receipts_roll_back_when_the_guard_watches_them(organization, pair):
    bridge, official = pair
    rollout = start(organization, official, steps=[50, 100], receipt_timeout_seconds=60)
    sent = send(organization, 40)
    through_target = [m for m in sent if m.integration_id == official.pk]
    assert len(through_target) >= 5
    # Receipts arrived for all but the target's messages: only its own receipts are judged.
    Message.objects.filter(pk__in=[m.pk for m in sent if m.integration_id == bridge.pk]).update(delivered_at=timezone.now())
    assert tick(rollout, 30).status == Rollout.Status.RUNNING  # not judged before the timeout
    rollout = tick(rollout, 200)
    assert rollout.status == Rollout.Status.ROLLED_BACK
    assert f"{len(through_target)} of {len(through_target)} messages had no delivery receipt within 60 s" in rollout.detail


def test_receipts_in_time_keep_the_rollout_going(organization, pair):
    bridge, official = pair
    rollout = start(organization, official, steps=[50, 100], receipt_timeout_seconds=60)
    sent = send(organization, 40)
    Message.objects.filter(pk__in=[m.pk for m in sent]).update(delivered_at=timezone.now(), status=Message.Status.DELIVERED)
    assert tick(rollout, 200).status == Rollout.Status.COMPLETED
    with pytest.raises(ValidationError, match="receipt timeout"):
        start(organization, bridge, receipt_timeout_seconds=0)


def test_list_policies_shows_running_rollouts_pending_switches_and_caps(organization, pair, capsys):
    import json

    from django.core.management import call_command

    from integrations.services.policies import scheduled, spend_caps

    bridge, official = pair
    start(organization, official)
    scheduled.schedule_switch(organization=organization, channel="whatsapp", integration_id=official.pk,
                              at=timezone.now() + timedelta(hours=1), actor="system:test")
    spend_caps.set_spend_cap(organization=organization, channel="whatsapp", integration_id=bridge.pk,
                             monthly_budget="10", currency="USD", actor="system:test")
    call_command("list_policies", "--org", organization.slug)
    out = capsys.readouterr().out
    assert "acme/whatsapp: rollout to Official at 10% of [10, 50, 100]" in out
    assert "acme/whatsapp: switch to Official at" in out
    assert "acme: Bridge spent 0.000000 of 10.000000 USD this month (under)" in out
    call_command("list_policies", "--json")
    document = json.loads(capsys.readouterr().out)
    assert [r["share"] for r in document["rollouts"]] == [10] and document["policies"][0]["mode"] == "split"


def test_a_contact_moved_to_the_target_stays_there_as_the_share_grows(organization, pair):
    from integrations.services.policies.selection import chosen_integration, routing_policy

    bridge, official = pair
    contacts = [f"+1415555{i:04d}" for i in range(2000)]

    def on_target():
        policy = routing_policy(organization_id=organization.pk, channel="whatsapp")
        return {c for c in contacts if chosen_integration(policy=policy, contact=c) == str(official.pk)}

    rollout = start(organization, official, steps=[10, 50, 100])
    at_10 = on_target()
    rollout = tick(rollout, 61)
    at_50 = on_target()
    assert rollout.share == 50 and at_10 < at_50  # a strict superset: nobody moved back
    assert abs(len(at_10) - 200) <= 60 and abs(len(at_50) - 1000) <= 120
