"""The wizard's state belongs to the migration: a test result is shown only for the integration
it tested, "Change configuration" edits what was entered, and a cancel removes what it created."""

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from integrations.models import Membership, Message, OrganizationIntegration, ProviderMigration
from tests.conftest import join_eager_threads
from tests.factories import make_integration, make_membership, make_user

State = ProviderMigration.State


@pytest.fixture
def client_a(client, organization):
    user = make_user(username="alice")
    make_membership(user=user, organization=organization, role=Membership.Role.ADMIN)
    client.force_login(user)
    return client


@pytest.fixture
def primary_a(organization):
    return make_integration(organization=organization, display_name="Sandbox A")


@pytest.fixture
def wizard(organization):
    return reverse("provider_admin:migrate", args=[organization.slug, "whatsapp"])


def act(client, wizard_url: str, action: str, data: dict | None = None, **kwargs):
    return client.post(f"{wizard_url}{action}/", data or {}, **kwargs)


def configure_new(client, wizard_url: str, name: str, **settings):
    data = {"display_name": name, **{f"cfg__{key}": value for key, value in settings.items()}}
    return act(client, wizard_url, "configure", data, follow=True)


@pytest.mark.django_db
def test_a_failed_test_is_not_shown_for_another_target(client_a, organization, primary_a, wizard):
    spare = make_integration(organization=organization, display_name="Spare", status="active")
    act(client_a, wizard, "select", {"provider_name": "sandbox_whatsapp"})
    configure_new(client_a, wizard, "Broken", health="down")
    page = act(client_a, wizard, "test", follow=True).content.decode()
    assert "Test failed." in page and "down" in page

    # Back to step 1, the same provider, and reuse the healthy spare instead.
    act(client_a, wizard, "select", {"provider_name": "sandbox_whatsapp", "migration_id": ProviderMigration.objects.get().pk})
    page = act(client_a, wizard, "configure", {"existing": spare.pk}, follow=True).content.decode()
    assert "Step 3 of 5" in page and "Spare" in page
    assert "Test failed." not in page and "Retry the test" not in page
    migration = ProviderMigration.objects.get()
    assert migration.error == "" and migration.target == spare


@pytest.mark.django_db
def test_change_configuration_edits_what_was_entered_and_keeps_the_secret(client_a, organization, primary_a, wizard):
    act(client_a, wizard, "select", {"provider_name": "sandbox_whatsapp"})
    configure_new(client_a, wizard, "Sandbox B", api_key="sk_b_0123456789", label="first")
    created = OrganizationIntegration.objects.get(display_name="Sandbox B")

    page = act(client_a, wizard, "back", follow=True).content.decode()
    assert "Step 2 of 5" in page and "Change the configuration of “Sandbox B”" in page
    assert 'value="first"' in page and 'value="Sandbox B"' in page
    assert "sk_b_0123456789" not in page and "Leave blank to keep it" in page  # write-only secret
    assert created.webhook_url in page

    page = act(
        client_a,
        wizard,
        "configure",
        {"editing": created.pk, "display_name": "Sandbox B2", "cfg__api_key": "", "cfg__label": "second"},
        follow=True,
    ).content.decode()
    assert "Step 3 of 5" in page, page[-2000:]
    assert OrganizationIntegration.objects.for_org(organization).count() == 2  # edited, not a second one
    created.refresh_from_db()
    assert created.display_name == "Sandbox B2" and created.config["label"] == "second"
    assert created.credentials["api_key"] == "sk_b_0123456789"  # blank kept it
    assert ProviderMigration.objects.get().target == created


@pytest.mark.django_db
def test_cancel_removes_the_integrations_it_created_and_keeps_the_rest(client_a, organization, primary_a, wizard):
    reused = make_integration(organization=organization, display_name="Reused", status="active")
    act(client_a, wizard, "select", {"provider_name": "sandbox_whatsapp"})
    configure_new(client_a, wizard, "Attempt 1", health="down")
    attempt_1 = OrganizationIntegration.objects.get(display_name="Attempt 1")
    act(client_a, wizard, "back")
    act(client_a, wizard, "select", {"provider_name": "sandbox_whatsapp", "migration_id": ProviderMigration.objects.get().pk})
    # Going back to step 1 and choosing the same provider keeps the target being edited…
    assert ProviderMigration.objects.get().target == attempt_1
    act(client_a, wizard, "configure", {"existing": reused.pk})
    response = act(client_a, wizard, "cancel", follow=True)

    page = response.content.decode()
    assert "Migration cancelled" in page and "“Attempt 1”" in page
    names = set(OrganizationIntegration.objects.for_org(organization).values_list("display_name", flat=True))
    assert names == {"Sandbox A", "Reused"}
    deleted = AuditEvent.objects.for_org(organization).get(action="integration.deleted")
    assert deleted.target_id == str(attempt_1.pk) and "cancelled" in deleted.reason
    cancelled = AuditEvent.objects.for_org(organization).get(action="migration.cancelled")
    assert cancelled.after["removed_integrations"] == [str(attempt_1.pk)]
    primary_a.refresh_from_db()
    assert primary_a.is_primary


@pytest.mark.django_db
def test_cancel_keeps_a_created_integration_that_carried_traffic(client_a, organization, primary_a, wizard):
    act(client_a, wizard, "select", {"provider_name": "sandbox_whatsapp"})
    configure_new(client_a, wizard, "Used")
    used = OrganizationIntegration.objects.get(display_name="Used")
    Message.objects.create(organization=organization, channel="whatsapp", to="+5511999990000", body="x", integration=used)
    act(client_a, wizard, "cancel")
    assert OrganizationIntegration.objects.filter(pk=used.pk).exists()
    migration = ProviderMigration.objects.get()
    assert migration.state == State.CANCELLED and "Kept 1" in migration.log[-1]["detail"]


@pytest.mark.django_db(transaction=True)
def test_completing_removes_the_attempts_it_abandoned(client_a, organization, primary_a, wizard, eager_celery):
    spare = make_integration(organization=organization, display_name="Spare", status="active")
    act(client_a, wizard, "select", {"provider_name": "sandbox_whatsapp"})
    configure_new(client_a, wizard, "Attempt 1", health="down")
    act(client_a, wizard, "test")
    # Another integration instead of the failed attempt, then through to the end.
    act(client_a, wizard, "select", {"provider_name": "sandbox_whatsapp", "migration_id": ProviderMigration.objects.get().pk})
    act(client_a, wizard, "configure", {"existing": spare.pk})
    act(client_a, wizard, "test")
    act(client_a, wizard, "execute")
    join_eager_threads()

    migration = ProviderMigration.objects.get()
    assert migration.state == State.COMPLETED and migration.target == spare
    names = set(OrganizationIntegration.objects.for_org(organization).values_list("display_name", flat=True))
    assert names == {"Sandbox A", "Spare"}
    deleted = AuditEvent.objects.for_org(organization).get(action="integration.deleted")
    assert "finished with another integration" in deleted.reason
    assert migration.log[-1]["step"] == "cleanup" and "Attempt 1" in migration.log[-1]["detail"]
