"""Finding 3: one tenant's integration stopped the health checks of every tenant.

The report: an integration whose ``base_url`` answered ``[1,2,3]`` made ``check_health`` raise
``AttributeError``; the periodic run stopped and other organizations' integrations were never
checked. Here one organization's integrations fail in every way we could make them (an answer of
the wrong shape, a provider that is no longer registered, a notification that raises) and are
checked first: each is marked down with a bounded detail, and the other organization's healthy
integration is still checked. The run also keeps to its time budget.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from integrations.models import OrganizationIntegration
from integrations.services import health, notifications
from tests.factories import make_integration
from tests.providers.loopback import LoopbackServer, Reply

PHONE_ID = "1234567890"
META_CREDENTIALS = {"access_token": "EAAG-test-token-0123456789", "app_secret": "app-secret-0123456789"}


@pytest.fixture
def list_server():
    """A base_url that answers a JSON list to everything (the reported ``[1,2,3]``)."""
    server = LoopbackServer().start()
    server.route("GET", f"/v21.0/{PHONE_ID}", Reply(status=200, json=[1, 2, 3]))
    yield server
    server.stop()


def _down_everywhere(organization, list_server):
    odd_answer = make_integration(
        organization=organization, provider_name="meta_cloud", display_name="Answers a list",
        config={"phone_number_id": PHONE_ID, "base_url": list_server.url, "read_timeout": 2},
        credentials=META_CREDENTIALS,
    )
    unregistered = make_integration(organization=organization, display_name="Provider gone", config={"label": "g"})
    # A provider plugin uninstalled (or the sandbox turned off) after the integration was made.
    OrganizationIntegration.objects.filter(pk=unregistered.pk).update(provider_name="uninstalled_plugin")
    return odd_answer, unregistered


@pytest.mark.django_db
def test_a_broken_tenant_never_stops_another_tenants_checks(organization, other_organization, list_server, monkeypatch):
    odd_answer, unregistered = _down_everywhere(organization, list_server)
    healthy = make_integration(organization=other_organization, display_name="Healthy", config={"label": "h"})
    # The healthy tenant was checked more recently, so the broken one goes first.
    OrganizationIntegration.objects.filter(pk=healthy.pk).update(health_checked_at=timezone.now())
    real_notify = notifications.notify

    def notify(*, organization, **kwargs):
        if organization.pk == odd_answer.organization_id:
            raise RuntimeError("the notification sink is down")
        return real_notify(organization=organization, **kwargs)

    monkeypatch.setattr(notifications, "notify", notify)

    rows = health.run_health_checks()

    by_name = {row.integration: row for row in rows}
    assert by_name["Healthy"].health == "healthy"
    for broken in (odd_answer, unregistered):
        broken.refresh_from_db()
        assert by_name[broken.display_name].health == "down"
        assert broken.health_status == "down" and broken.health_checked_at is not None
        assert len(broken.health_detail) <= 300 and "[1, 2, 3]" not in broken.health_detail
    healthy.refresh_from_db()
    assert healthy.health_status == "healthy"


@pytest.mark.django_db
def test_test_connection_of_an_unregistered_provider_is_down_not_an_error(organization):
    integration = make_integration(organization=organization, display_name="Gone", config={"label": "g"})
    OrganizationIntegration.objects.filter(pk=integration.pk).update(provider_name="uninstalled_plugin")
    integration.refresh_from_db()

    result = health.integration_test_connection(integration=integration, actor="system:test")

    assert result.status.value == "down" and result.detail == "The health check could not run (UnknownProvider)."


@pytest.mark.django_db
def test_a_run_stops_at_its_budget_and_the_next_starts_with_those_it_did_not_reach(organization, other_organization):
    first = make_integration(organization=organization, display_name="Checked", config={"label": "a"})
    waiting = make_integration(organization=other_organization, display_name="Waiting", config={"label": "b"})
    OrganizationIntegration.objects.filter(pk=first.pk).update(health_checked_at=timezone.now())

    assert health.run_health_checks(budget_seconds=0) == []
    rows = health.run_health_checks(budget_seconds=60)

    assert [row.integration for row in rows] == ["Waiting", "Checked"]
    waiting.refresh_from_db()
    assert waiting.health_checked_at is not None
