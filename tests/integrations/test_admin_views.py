"""The admin's provider screens: permissions, the wizard and its refusals, the feature flag."""

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from audit.models import AuditEvent
from integrations.models import Membership, OrganizationIntegration, ProviderMigration
from integrations.services.migration.wizard import migration_begin_execute, migration_start
from tests.conftest import join_eager_threads
from tests.factories import SECRET_API_KEY, make_integration, make_membership, make_user

State = ProviderMigration.State
PASSWORD = "pw-Test-12345"


# Each wizard and detail-page action is its own POST view; tests name the action as the page's
# buttons do and post to that action's URL.
ACTION_PATHS = {
    "test_message": "test-message/",
    "save": "settings/",
    "replace_credentials": "credentials/",
}


def post_action(client, page_url: str, data: dict, **kwargs):
    action = data["action"]
    path = ACTION_PATHS.get(action, f"{action}/")
    if "/integration/" in page_url and action == "test":
        path = "test/"
    return client.post(page_url + path, data, **kwargs)




@pytest.fixture
def alice(organization):
    user = make_user(username="alice")
    make_membership(user=user, organization=organization, role=Membership.Role.ADMIN)
    return user


@pytest.fixture
def client_a(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def primary_a(organization):
    return make_integration(organization=organization, display_name="Sandbox A")


@pytest.fixture
def primary_b(other_organization):
    return make_integration(organization=other_organization, display_name="Globex main")


def _screens_of(org, integration, migration):
    return [
        reverse("provider_admin:migrate", args=[org.slug, "whatsapp"]),
        reverse("provider_admin:history", args=[org.slug]),
        reverse("provider_admin:integration", args=[integration.pk]),
        reverse("provider_admin:migration", args=[org.slug, "whatsapp", migration.pk]),
        reverse("provider_admin:migration_status", args=[org.slug, "whatsapp", migration.pk]),
    ]


@pytest.mark.django_db
def test_anonymous_is_sent_to_the_admin_login(client):
    response = client.get(reverse("provider_admin:dashboard"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.django_db
def test_admin_of_a_sees_only_a(client_a, organization, other_organization, primary_a, primary_b):
    page = client_a.get(reverse("provider_admin:dashboard")).content.decode()
    assert "Sandbox A" in page and "Acme" in page
    assert "Globex" not in page
    status = client_a.get(reverse("provider_admin:status")).json()
    assert {row["id"] for row in status["integrations"]} == {str(primary_a.pk)}


@pytest.mark.django_db
def test_admin_of_a_cannot_open_any_screen_of_b(client_a, other_organization, primary_b):
    other_admin = make_user(username="globex-admin")
    migration = migration_start(
        organization=other_organization,
        channel="whatsapp",
        provider_name="sandbox_whatsapp",
        actor=other_admin,
    )
    for url in _screens_of(other_organization, primary_b, migration):
        assert client_a.get(url).status_code == 404, url
    # Nor act on them.
    post = post_action(
        client_a,
        reverse("provider_admin:migrate", args=[other_organization.slug, "whatsapp"]),
        {"action": "cancel"},
    )
    assert post.status_code == 404
    rollback = post_action(
        client_a,
        reverse(
            "provider_admin:migration", args=[other_organization.slug, "whatsapp", migration.pk]
        ),
        {"action": "rollback"},
    )
    assert rollback.status_code == 404
    migration.refresh_from_db()
    assert migration.state == State.DRAFT
    detail = post_action(
        client_a, reverse("provider_admin:integration", args=[primary_b.pk]), {"action": "test"}
    )
    assert detail.status_code == 404


@pytest.mark.django_db
def test_a_plain_member_cannot_open_the_screens(client, organization, primary_a):
    member = make_user(username="mallory")
    make_membership(user=member, organization=organization, role=Membership.Role.MEMBER)
    client.force_login(member)
    assert (
        client.get(
            reverse("provider_admin:migrate", args=[organization.slug, "whatsapp"])
        ).status_code
        == 404
    )
    assert client.get(reverse("provider_admin:integration", args=[primary_a.pk])).status_code == 404
    assert "Acme" not in client.get(reverse("provider_admin:dashboard")).content.decode()


@pytest.mark.django_db(transaction=True)
def test_wizard_end_to_end_then_rollback(client_a, organization, primary_a, eager_celery):
    url = reverse("provider_admin:migrate", args=[organization.slug, "whatsapp"])
    step1 = client_a.get(url)
    assert b"Step 1 of 5" in step1.content and b"Sandbox WhatsApp" in step1.content

    response = post_action(
        client_a, url, {"action": "select", "provider_name": "sandbox_whatsapp"}, follow=True
    )
    assert b"Step 2 of 5" in response.content
    assert b'type="password"' in response.content  # the API key is a secret input
    response = post_action(
        client_a,
        url,
        {
            "action": "configure",
            "display_name": "Sandbox B",
            "cfg__api_key": "sk_b_0123456789",
            "cfg__label": "b",
            "cfg__health": "healthy",
            "cfg__failure_mode": "unavailable",
        },
        follow=True,
    )
    assert b"Step 3 of 5" in response.content, response.content.decode()[-3000:]
    response = post_action(client_a, url, {"action": "test"}, follow=True)
    assert b"Step 4 of 5" in response.content and b"Connection test passed" in response.content
    # Leaving and coming back resumes where it is.
    assert b"Step 4 of 5" in client_a.get(url).content

    response = post_action(client_a, url, {"action": "execute"})
    # Eager tasks: the execution runs beside the request (so the page can watch it); wait for it.
    join_eager_threads()
    migration = ProviderMigration.objects.for_org(organization).get()
    assert migration.state == State.COMPLETED and migration.progress == 100
    page = client_a.get(response["Location"]).content.decode()
    assert (
        "Migration complete" in page and "Step 5 of 5" in page and "Roll back to Sandbox A" in page
    )
    assert "migration.completed" in page and "provider.switched" in page  # the audit trail
    target = OrganizationIntegration.objects.get(pk=migration.target_id)
    assert target.is_primary and target.display_name == "Sandbox B"
    # The wizard URL now starts afresh; the status JSON reports the outcome.
    status = client_a.get(
        reverse(
            "provider_admin:migration_status", args=[organization.slug, "whatsapp", migration.pk]
        )
    ).json()
    assert (
        status["state"] == "completed"
        and status["progress"] == 100
        and status["rollback_available"]
    )

    response = post_action(
        client_a,
        reverse("provider_admin:migration", args=[organization.slug, "whatsapp", migration.pk]),
        {"action": "rollback", "reason": "trying it"},
        follow=True,
    )
    assert "Rolled back" in response.content.decode()
    primary_a.refresh_from_db()
    assert primary_a.is_primary
    history = client_a.get(
        reverse("provider_admin:history", args=[organization.slug])
    ).content.decode()
    # Completed, then rolled back: a success and a rollback, never a failure.
    assert "Rolled back" in history and "100 % (1 of 1 ran to completion)" in history
    assert "Rolled back by choice: 1 (not counted as failures)" in history
    # No secret ever reaches a page.
    for page_url in (
        reverse("provider_admin:dashboard"),
        reverse("provider_admin:integration", args=[target.pk]),
        url,
    ):
        body = client_a.get(page_url).content.decode()
        assert "sk_b_0123456789" not in body and SECRET_API_KEY not in body


@pytest.mark.django_db
def test_concurrent_migration_is_refused_on_the_page(client_a, organization, primary_a):
    bob = make_user(username="bob")
    migration_start(
        organization=organization, channel="whatsapp", provider_name="sandbox_whatsapp", actor=bob
    )
    url = reverse("provider_admin:migrate", args=[organization.slug, "whatsapp"])
    # The page resumes bob's migration rather than starting a second one…
    assert b"Step 2 of 5" in client_a.get(url).content
    # …and the database refuses a second open one even if someone slipped past the page.
    with pytest.raises(IntegrityError), transaction.atomic():
        ProviderMigration.objects.create(organization=organization, channel="whatsapp")
    assert ProviderMigration.objects.for_org(organization).count() == 1


@pytest.mark.django_db
def test_second_start_is_explained(client_a, organization, primary_a):
    """Two admins on step 1 at once: the second 'Next step' is refused with the reason on the page."""
    url = reverse("provider_admin:migrate", args=[organization.slug, "whatsapp"])
    assert b"Step 1 of 5" in client_a.get(url).content
    bobs = migration_start(
        organization=organization,
        channel="whatsapp",
        provider_name="sandbox_whatsapp",
        actor=make_user(username="bob"),
    )
    response = post_action(
        client_a,
        url,
        {"action": "select", "provider_name": "sandbox_whatsapp", "migration_id": ""},
        follow=True,
    )
    page = response.content.decode()
    assert "is already draft (opened by bob" in page
    assert ProviderMigration.objects.for_org(organization).get() == bobs


@pytest.mark.django_db
def test_failed_test_is_explained_and_execution_refused(client_a, organization, primary_a):
    url = reverse("provider_admin:migrate", args=[organization.slug, "whatsapp"])
    post_action(client_a, url, {"action": "select", "provider_name": "sandbox_whatsapp"})
    post_action(
        client_a, url, {"action": "configure", "display_name": "Broken", "cfg__health": "down"}
    )
    response = post_action(client_a, url, {"action": "test"}, follow=True)
    page = response.content.decode()
    assert (
        "Step 3 of 5" in page and "Test failed." in page and "Connection test failed: down" in page
    )
    assert "Retry the test" in page
    response = post_action(client_a, url, {"action": "execute"}, follow=True)
    assert "Run a successful connection test before executing." in response.content.decode()
    assert ProviderMigration.objects.for_org(organization).get().state == State.CONFIGURED
    primary_a.refresh_from_db()
    assert primary_a.is_primary


@pytest.mark.django_db
def test_invalid_configuration_is_shown_on_the_form(client_a, organization, primary_a):
    url = reverse("provider_admin:migrate", args=[organization.slug, "whatsapp"])
    post_action(client_a, url, {"action": "select", "provider_name": "sandbox_whatsapp"})
    response = post_action(
        client_a,
        url,
        {"action": "configure", "display_name": "Sandbox B", "cfg__failure_rate": "3"},
    )
    page = response.content.decode()
    assert "Step 2 of 5" in page and "Failure rate must be between 0 and 1." in page
    response = post_action(client_a, url, {"action": "configure", "display_name": "Sandbox A"})
    page = response.content.decode()
    assert "Step 2 of 5" in page and "&#x27;Sandbox A&#x27; is already used" in page
    assert ProviderMigration.objects.for_org(organization).get().state == State.DRAFT


@pytest.mark.django_db
def test_cancel_leaves_everything_as_it_was(client_a, organization, primary_a):
    url = reverse("provider_admin:migrate", args=[organization.slug, "whatsapp"])
    post_action(client_a, url, {"action": "select", "provider_name": "sandbox_whatsapp"})
    response = post_action(client_a, url, {"action": "cancel"})
    assert response.status_code == 302
    assert ProviderMigration.objects.for_org(organization).get().state == State.CANCELLED
    assert AuditEvent.objects.for_org(organization).filter(action="migration.cancelled").exists()


@pytest.mark.django_db
def test_flag_off_hides_screens_and_refuses_switching(client_a, organization, primary_a, settings):
    index = client_a.get(reverse("admin:index")).content.decode()
    assert reverse("provider_admin:dashboard") in index and ">Providers<" in index
    migration = migration_start(
        organization=organization,
        channel="whatsapp",
        provider_name="sandbox_whatsapp",
        actor="system:test",
    )

    settings.PROVIDER_MANAGEMENT_ENABLED = False
    for url in _screens_of(organization, primary_a, migration) + [
        reverse("provider_admin:dashboard"),
        reverse("provider_admin:status"),
    ]:
        assert client_a.get(url).status_code == 404, url
    response = post_action(
        client_a,
        reverse("provider_admin:migrate", args=[organization.slug, "whatsapp"]),
        {"action": "execute"},
    )
    assert response.status_code == 404
    index = client_a.get(reverse("admin:index")).content.decode()
    assert reverse("provider_admin:dashboard") not in index
    from integrations.errors import OperationRefused

    with pytest.raises(OperationRefused):
        migration_begin_execute(migration=migration, actor="system:test")


@pytest.mark.django_db
def test_detail_masks_credentials_saves_settings_and_replaces_credentials(
    client_a, organization, primary_a
):
    url = reverse("provider_admin:integration", args=[primary_a.pk])
    page = client_a.get(url).content.decode()
    assert SECRET_API_KEY not in page
    assert "••••" + SECRET_API_KEY[-4:] in page
    assert primary_a.webhook_url in page
    assert "Usage this month" in page

    response = post_action(
        client_a,
        url,
        {"action": "save", "delivery_receipts": "on", "business_hours_auto_reply": "Back at 9"},
    )
    assert response.status_code == 302
    primary_a.refresh_from_db()
    assert primary_a.config["delivery_receipts"] is True
    assert primary_a.config["require_webhook_signature"] is False
    assert primary_a.config["business_hours_auto_reply"] == "Back at 9"

    post_action(
        client_a, url, {"action": "replace_credentials", "cfg__api_key": "sk_replaced_987654321"}
    )
    primary_a.refresh_from_db()
    assert primary_a.credentials["api_key"] == "sk_replaced_987654321"
    event = (
        AuditEvent.objects.for_org(organization)
        .filter(action="integration.updated")
        .latest("created_at")
    )
    assert "sk_replaced" not in str(event.before) + str(event.after)

    response = post_action(client_a, url, {"action": "test"}, follow=True)
    assert "Connection test: Healthy" in response.content.decode()


@pytest.mark.django_db
def test_usage_counts_real_rows(client_a, organization, primary_a):
    from decimal import Decimal

    from integrations.models import Message

    for status, cost, latency in (
        ("delivered", "0.005", 100),
        ("sent", "0.005", 300),
        ("failed", None, None),
        ("queued", None, None),
    ):
        Message.objects.create(
            organization=organization,
            integration=primary_a,
            to="+15550001",
            status=status,
            cost=Decimal(cost) if cost else None,
            currency="USD" if cost else "",
            latency_ms=latency,
        )
    page = client_a.get(reverse("provider_admin:integration", args=[primary_a.pk])).content.decode()
    assert "$0.01" in page  # 0.010 total, written the reader's way
    assert "66.7 %" in page  # 2 of 3 finished succeeded
    assert "200 ms" in page


@pytest.mark.django_db
def test_whatsapp_web_detail_shows_the_pairing_panel(client_a, organization):
    bridge = make_integration(
        organization=organization,
        provider_name="whatsapp_web",
        display_name="Bridge",
        status=OrganizationIntegration.Status.PENDING,
        config={"base_url": "http://127.0.0.1:9"},
        credentials={"api_key": "bridge_key_0123456789"},
    )
    page = client_a.get(reverse("provider_admin:integration", args=[bridge.pk])).content.decode()
    assert "Pair the WhatsApp Web bridge" in page
    assert reverse("integration_pairing", args=[bridge.pk]) in page
    assert "bridge_key_0123456789" not in page
