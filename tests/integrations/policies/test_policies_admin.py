"""The policy pages of the admin: read-only, scoped to the organizations one administers, and the
cancel actions go through the services."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from integrations.models import Membership, Rollout, ScheduledSwitch
from integrations.services.policies import rollouts, scheduled, spend_caps
from integrations.services.policies.channel_policy import set_policy
from tests.factories import make_integration, make_membership, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(organization, other_organization):
    admin_a = make_user(username="alice")
    make_membership(user=admin_a, organization=organization, role=Membership.Role.ADMIN)
    mine = [make_integration(organization=organization, display_name=n) for n in ("alpha-1", "alpha-2")]
    theirs = [make_integration(organization=other_organization, display_name=n) for n in ("bravo-1", "bravo-2")]
    for org, (first, second) in ((organization, mine), (other_organization, theirs)):
        set_policy(organization=org, channel="whatsapp", mode="primary", actor="system:test",
                   rules=[{"tag": f"tag-{org.slug}", "integration_id": str(second.pk)}])
        scheduled.schedule_switch(organization=org, channel="whatsapp", integration_id=second.pk,
                                  at=timezone.now() + timedelta(hours=1), reason=f"switch-{org.slug}", actor="system:test")
        rollouts.start_rollout(organization=org, channel="whatsapp", integration_id=second.pk, steps=[10, 100],
                               step_seconds=60, max_failure_rate=0.1, actor="system:test", reason="r")
        spend_caps.set_spend_cap(organization=org, channel="whatsapp", integration_id=first.pk, monthly_budget="10",
                                 currency="USD", actor="system:test")
    return admin_a


@pytest.mark.parametrize("model", ["channelpolicy", "scheduledswitch", "rollout", "spendcap"])
def test_each_page_lists_only_the_administered_organizations(client, setup, model, organization):
    client.force_login(setup)
    response = client.get(reverse(f"admin:integrations_{model}_changelist"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Acme" in html and "bravo" not in html and "Globex" not in html
    assert client.get(reverse(f"admin:integrations_{model}_add")).status_code == 403


def test_cancel_actions_go_through_the_services(client, setup, organization, other_organization):
    client.force_login(setup)
    mine = ScheduledSwitch.objects.get(organization=organization)
    response = client.post(reverse("admin:integrations_scheduledswitch_changelist"),
                           {"action": "cancel", "_selected_action": [str(mine.pk)]}, follow=True)
    assert "1 cancelled." in response.content.decode()
    mine.refresh_from_db()
    assert mine.status == ScheduledSwitch.Status.CANCELLED
    rollout = Rollout.objects.get(organization=organization)
    client.post(reverse("admin:integrations_rollout_changelist"), {"action": "cancel", "_selected_action": [str(rollout.pk)]})
    rollout.refresh_from_db()
    assert rollout.status == Rollout.Status.CANCELLED
    # Another organization's row cannot be selected into the action.
    theirs = Rollout.objects.get(organization=other_organization)
    client.post(reverse("admin:integrations_rollout_changelist"), {"action": "cancel", "_selected_action": [str(theirs.pk)]})
    theirs.refresh_from_db()
    assert theirs.status == Rollout.Status.RUNNING


def test_the_dashboard_shows_spend_against_the_cap(client, setup, organization):
    from decimal import Decimal

    from django.utils import translation

    from integrations.models import Message, OrganizationIntegration, SpendCap

    client.force_login(setup)
    integration = OrganizationIntegration.objects.get(organization=organization, display_name="alpha-1")
    Message.objects.create(organization=organization, channel="whatsapp", to="+14155550000", body="x",
                           integration=integration, status=Message.Status.SENT, cost=Decimal("12"), currency="USD")
    spend_caps.evaluate_spend_caps()
    assert SpendCap.objects.get(integration=integration).reached
    page = client.get(reverse("provider_admin:dashboard")).content.decode()
    assert "Spent $12.00 of $10.00 this month (120%)" in page and "Budget reached: not routed" in page
    with translation.override("pt-br"):
        page = client.get(reverse("provider_admin:dashboard"), HTTP_ACCEPT_LANGUAGE="pt-br").content.decode()
    assert "Orçamento atingido: fora do roteamento" in page
