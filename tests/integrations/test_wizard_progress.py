"""Progress on the embedded default (eager Celery): the execution runs beside the request, so the
migration page shows its steps as they complete and offers the rollback while it runs."""

import time

import pytest
from django.urls import reverse

from integrations.models import Membership, ProviderMigration
from tests.conftest import join_eager_threads
from tests.factories import make_integration, make_membership, make_user

State = ProviderMigration.State


@pytest.fixture
def client_a(client, organization):
    user = make_user(username="alice")
    make_membership(user=user, organization=organization, role=Membership.Role.ADMIN)
    client.force_login(user)
    return client


def wait_for(predicate, *, timeout: float = 10.0, every: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("condition not met in time")


def ready_migration(client, organization, *, latency_ms: int) -> tuple[str, str]:
    make_integration(organization=organization, display_name="Sandbox A")
    wizard = reverse("provider_admin:migrate", args=[organization.slug, "whatsapp"])
    client.post(wizard + "select/", {"provider_name": "sandbox_whatsapp"})
    client.post(wizard + "configure/", {"display_name": "Slow B", "cfg__latency_ms": str(latency_ms)})
    client.post(wizard + "test/")
    assert ProviderMigration.objects.get().state == State.TESTED
    return wizard, str(ProviderMigration.objects.get().pk)


@pytest.mark.django_db(transaction=True)
def test_the_page_watches_the_steps_and_rolls_back_while_it_runs(client_a, organization, eager_celery):
    wizard, migration_id = ready_migration(client_a, organization, latency_ms=3000)
    status_url = reverse("provider_admin:migration_status", args=[organization.slug, "whatsapp", migration_id])
    page_url = reverse("provider_admin:migration", args=[organization.slug, "whatsapp", migration_id])

    started = time.monotonic()
    response = client_a.post(wizard + "execute/")
    assert response.status_code == 302 and response["Location"] == page_url
    assert time.monotonic() - started < 2.5  # the request did not wait for the 3 s health check

    # The verification step (3 s on this target) is shown as running, the earlier ones done.
    status = wait_for(lambda: (s := client_a.get(status_url).json())["steps"][2]["state"] == "running" and s)
    assert status["state"] == "executing" and status["rollback_available"]
    assert [row["state"] for row in status["steps"][:2]] == ["done", "done"]
    page = client_a.get(page_url).content.decode()
    assert "Migrating…" in page and "Still running." in page and "Roll back to Sandbox A" in page
    assert "Verify the target is healthy" in page and "Running…" in page

    # Roll back while it runs: the execution stops before its next step.
    client_a.post(page_url + "rollback/", {"reason": "changed my mind"})
    join_eager_threads()
    status = client_a.get(status_url).json()
    assert status["state"] == "rolled_back"
    assert [row["state"] for row in status["steps"]] == ["done", "done", "not_run", "not_run", "not_run", "not_run"]
    assert organization.integrations.get(is_primary=True).display_name == "Sandbox A"


@pytest.mark.django_db(transaction=True)
def test_a_fast_execution_still_shows_every_step_it_recorded(client_a, organization, eager_celery):
    wizard, migration_id = ready_migration(client_a, organization, latency_ms=0)
    client_a.post(wizard + "execute/")
    join_eager_threads()
    page = client_a.get(
        reverse("provider_admin:migration", args=[organization.slug, "whatsapp", migration_id])
    ).content.decode()
    assert "Migration complete" in page
    for label in ("Validate the target&#x27;s configuration", "Switch the primary", "Verify the route serves the new primary"):
        assert label in page
    assert page.count('class="pm-exec-done"') == 6
    assert "Roll back to Sandbox A" in page  # offered after, too


@pytest.mark.django_db
def test_connection_test_buttons_say_testing_while_they_run(client_a, organization):
    make_integration(organization=organization, display_name="Sandbox A")
    wizard = reverse("provider_admin:migrate", args=[organization.slug, "whatsapp"])
    client_a.post(wizard + "select/", {"provider_name": "sandbox_whatsapp"})
    client_a.post(wizard + "configure/", {"display_name": "Sandbox B"})
    page = client_a.get(wizard).content.decode()
    assert 'data-busy-label="Testing…"' in page and "Testing the connection to Sandbox B…" in page
    assert "data-busy-region" in page


@pytest.mark.django_db
def test_the_detail_pages_connection_test_says_testing_too(client_a, organization):
    integration = make_integration(organization=organization, display_name="Sandbox A")
    page = client_a.get(reverse("provider_admin:integration", args=[integration.pk])).content.decode()
    assert 'data-busy-label="Testing…"' in page and "Testing the connection to Sandbox A…" in page
