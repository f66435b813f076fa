"""Spend caps: routing skips an integration that reached its monthly budget; 80 % and 100 % notify."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from audit.models import AuditEvent
from integrations.errors import NotFound
from integrations.models import Message, Rollout, ScheduledSwitch, SpendCap
from integrations.services.delivery import dispatch, intake
from integrations.services.policies import rollouts, scheduled, spend_caps
from integrations.tasks import run_policy_jobs
from tests.factories import make_integration, make_membership, make_user

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pair(organization):
    make_membership(user=make_user(username="owner"), organization=organization)
    return (make_integration(organization=organization, display_name="Official", config={"label": "official"}),
            make_integration(organization=organization, display_name="Bridge", config={"label": "bridge"}))


def spend(organization, integration, amount: str, currency="USD", days_ago=0):
    Message.objects.create(organization=organization, channel="whatsapp", to="+14155550000", body="x",
                           integration=integration, status=Message.Status.SENT, cost=Decimal(amount), currency=currency,
                           created_at=timezone.now() - timedelta(days=days_ago))


def deliver(organization):
    message, _ = intake.send_message(organization=organization, channel="whatsapp", to="+14155550001", body="hi",
                                     actor="system:test")
    dispatch.deliver_message(message_id=message.pk)
    message.refresh_from_db()
    return message


def cap(organization, integration, budget="10"):
    return spend_caps.set_spend_cap(organization=organization, channel="whatsapp", integration_id=integration.pk,
                                    monthly_budget=budget, currency="usd", actor="system:test", reason="budget")


def test_a_reached_cap_is_skipped_like_an_open_breaker_and_notified_at_80_and_100(organization, pair, django_capture_on_commit_callbacks):
    official, bridge = pair
    row = cap(organization, official)
    assert (row.currency, row.reached, row.spent) == ("USD", False, 0)
    assert AuditEvent.objects.get(action=spend_caps.CHANGED).after["spend_cap"]["monthly_budget"] == "10"
    spend(organization, official, "8.5")
    spend(organization, official, "50", currency="EUR")  # another currency does not count
    spend(organization, official, "50", days_ago=40)  # nor does last month
    with django_capture_on_commit_callbacks(execute=True):
        assert run_policy_jobs() == {}
    row.refresh_from_db()
    assert (row.spent, row.notified_percent, row.reached) == (Decimal("8.5"), 80, False)
    assert [m.subject for m in mail.outbox if "monthly budget" in m.subject] == ["[Switchboard] Acme: Official used 85% of its monthly budget"]
    assert deliver(organization).integration_id == official.pk
    spend(organization, official, "2")
    with django_capture_on_commit_callbacks(execute=True):
        assert run_policy_jobs() == {"spend_caps_flipped": 1}
    row.refresh_from_db()
    assert row.reached and row.notified_percent == 100
    assert any("reached its monthly budget" in m.subject for m in mail.outbox)
    assert deliver(organization).integration_id == bridge.pk
    # Raising the budget releases it at once.
    cap(organization, official, budget="100")
    assert deliver(organization).integration_id == official.pk
    with django_capture_on_commit_callbacks(execute=True):
        run_policy_jobs()
    assert len([m for m in mail.outbox if "monthly budget" in m.subject]) == 2  # once per threshold a month


def test_a_capped_target_refuses_a_scheduled_switch_and_rolls_a_rollout_back(organization, pair):
    official, bridge = pair
    cap(organization, bridge, budget="1")
    spend(organization, bridge, "1")
    spend_caps.evaluate_spend_caps()
    row = scheduled.schedule_switch(organization=organization, channel="whatsapp", integration_id=bridge.pk,
                                    at=timezone.now() + timedelta(minutes=1), actor="system:test")
    scheduled.run_due_switches(now=row.at)
    row.refresh_from_db()
    assert row.status == ScheduledSwitch.Status.REFUSED and "monthly budget" in row.detail
    SpendCap.objects.filter(integration=bridge).update(reached=False)
    rollout = rollouts.start_rollout(organization=organization, channel="whatsapp", integration_id=bridge.pk,
                                     steps=[50, 100], step_seconds=60, max_failure_rate=0.1, actor="system:test")
    SpendCap.objects.filter(integration=bridge).update(reached=True)
    rollouts.advance_rollouts(now=rollout.step_started_at + timedelta(seconds=1))
    rollout.refresh_from_db()
    assert rollout.status == Rollout.Status.ROLLED_BACK and "monthly budget" in rollout.detail


def test_bad_caps_are_refused_and_removal_is_audited(organization, other_organization, pair):
    official, bridge = pair
    foreign = make_integration(organization=other_organization, display_name="Foreign")
    for budget in ("0", "-5", "abc", "1e12", "NaN"):
        with pytest.raises(ValidationError, match="positive amount"):
            cap(organization, official, budget=budget)
    with pytest.raises(ValidationError, match="three-letter"):
        spend_caps.set_spend_cap(organization=organization, channel="whatsapp", integration_id=official.pk,
                                 monthly_budget="5", currency="US1", actor="x")
    with pytest.raises(NotFound):
        cap(organization, foreign)
    with pytest.raises(NotFound):
        spend_caps.set_spend_cap(organization=organization, channel="voip", integration_id=official.pk,
                                 monthly_budget="5", currency="USD", actor="x")
    cap(organization, official)
    spend_caps.remove_spend_cap(organization=organization, channel="whatsapp", integration_id=official.pk, actor="system:test")
    assert not SpendCap.objects.exists()
    assert AuditEvent.objects.filter(action=spend_caps.CHANGED).order_by("created_at").last().after == {"spend_cap": None}
    with pytest.raises(NotFound):
        spend_caps.remove_spend_cap(organization=organization, channel="whatsapp", integration_id=official.pk, actor="x")


def test_automatic_failover_skips_an_integration_over_its_budget(organization, pair):
    from integrations.models import OrganizationIntegration
    from integrations.selectors.integrations import primary_integration
    from integrations.services import health

    official, bridge = pair
    third = make_integration(organization=organization, display_name="Third", config={"label": "third"})
    organization.auto_failover = True
    organization.save(update_fields=["auto_failover"])
    cap(organization, bridge, budget="1")
    spend(organization, bridge, "5")
    spend_caps.evaluate_spend_caps()
    OrganizationIntegration.objects.filter(pk=official.pk).update(
        consecutive_failures=5, breaker_open_until=timezone.now() + timedelta(seconds=30))
    health.run_health_checks(organization=organization)
    assert primary_integration(organization=organization, channel="whatsapp").pk == third.pk
