"""A new admin, with nothing but the browser: sees the providers, migrates to another provider,
watches the progress, rolls back and reads the audit trail."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from config.celery import app as celery_app
from integrations.models import (
    Membership,
    OrganizationIntegration,
    ProviderMigration,
    ServiceWindow,
)
from integrations.tasks import execute_provider_migration
from tests.factories import make_integration, make_membership, make_organization, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-Test-12345"


@pytest.fixture
def acme(live_server):
    organization = make_organization(name="Acme", slug="acme")
    user = make_user(username="ana", password=PASSWORD)
    make_membership(user=user, organization=organization, role=Membership.Role.ADMIN)
    current = make_integration(
        organization=organization, display_name="Sandbox A", config={"label": "a"}
    )
    other = make_organization(name="Globex", slug="globex")
    make_integration(organization=other, display_name="Globex main")
    return organization, current


@pytest.fixture
def no_worker():
    """The execute step is queued for a worker; this test plays the worker itself, so it can
    watch the page follow the progress. Queued copies are purged afterwards."""
    assert not celery_app.conf.task_always_eager
    yield
    celery_app.control.purge()


def login(page, live_server):
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", "ana")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#site-name")).to_be_visible()


def card(page, name):
    return page.locator(".pm-card", has=page.locator("h4", has_text=re.compile(f"^{name}$")))


def test_migrate_watch_progress_roll_back_and_audit(page, live_server, acme, screenshot, no_worker):
    organization, current = acme
    login(page, live_server)

    # The admin index has the Providers entry.
    providers_link = page.get_by_role("link", name="Provider dashboard").first
    expect(providers_link).to_be_visible()
    providers_link.click()
    expect(page).to_have_url(re.compile(r"/admin/providers/$"))
    expect(page.get_by_role("heading", name="Acme")).to_be_visible()
    expect(page.get_by_text("Globex")).to_have_count(0)
    expect(card(page, "Sandbox A").locator("[data-status-label]")).to_have_text("Active")
    expect(card(page, "Sandbox A").locator("[data-primary-badge]")).to_be_visible()
    screenshot(page, "01-dashboard")

    # Step 1, by keyboard: choose the provider and go on.
    page.get_by_role("link", name="Switch the WhatsApp provider of Acme").click()
    expect(page.get_by_text("Step 1 of 5")).to_be_visible()
    screenshot(page, "02-wizard-1-provider")
    radio = page.get_by_role("radio", name=re.compile("Sandbox WhatsApp"))
    radio.focus()
    page.keyboard.press("Space")
    expect(radio).to_be_checked()
    page.get_by_role("button", name="Next step").focus()
    page.keyboard.press("Enter")

    # Step 2: configure a new sandbox integration; the API key is a password input.
    expect(page.get_by_text("Step 2 of 5")).to_be_visible()
    expect(page.locator("input[name=cfg__api_key]")).to_have_attribute("type", "password")
    page.fill("input[name=display_name]", "Sandbox B")
    page.fill("input[name=cfg__api_key]", "sk_browser_0123456789")
    page.fill("input[name=cfg__label]", "b")
    screenshot(page, "03-wizard-2-configure")
    page.get_by_role("button", name="Save and continue").click()

    # Step 3: the live connection test.
    expect(page.get_by_text("Step 3 of 5")).to_be_visible()
    screenshot(page, "04-wizard-3-test")
    page.get_by_role("button", name="Test connection").click()
    expect(page.get_by_text("Step 4 of 5")).to_be_visible()
    expect(page.get_by_text("Connection test passed")).to_have_count(2)
    screenshot(page, "05-wizard-4-ready")

    # Step 4: execute; the page follows the task's progress without reloading by hand.
    page.get_by_role("button", name="Start migration").click()
    expect(page.get_by_role("heading", name="Migrating…")).to_be_visible()
    expect(page.locator("[data-progress-text]")).to_have_text("0 %")
    screenshot(page, "06-wizard-4-executing")
    migration = ProviderMigration.objects.for_org(organization).get()
    assert migration.state == ProviderMigration.State.EXECUTING
    execute_provider_migration.apply(args=[str(migration.pk)])
    expect(page.get_by_role("heading", name="Migration complete")).to_be_visible()
    expect(page.locator("[data-progress-text]")).to_have_text("100 %")
    expect(page.locator("#migration-progress")).to_have_attribute("value", "100")
    expect(page.get_by_text("Step 5 of 5")).to_be_visible()
    screenshot(page, "07-wizard-5-confirmation")

    # The dashboard shows the new primary.
    page.get_by_role("link", name="Back to providers").click()
    expect(card(page, "Sandbox B").locator("[data-primary-badge]")).to_be_visible()
    expect(card(page, "Sandbox A").locator("[data-primary-badge]")).to_be_hidden()
    screenshot(page, "08-dashboard-after-migration")

    # Status refreshes by itself: the new primary reports degraded health, the card follows.
    OrganizationIntegration.objects.for_org(organization).filter(display_name="Sandbox B").update(
        health_status="degraded"
    )
    expect(card(page, "Sandbox B").locator("[data-status-label]")).to_have_text(
        "Degraded", timeout=8_000
    )

    # Roll back from the migration page, found through the history.
    page.get_by_role("link", name="Migration history").first.click()
    expect(page.get_by_role("cell", name="Completed")).to_be_visible()
    expect(page.get_by_text("100 % (1 of 1 ran to completion)")).to_be_visible()
    screenshot(page, "09-history")
    page.locator(".pm-table tbody td:first-child a").first.click()
    page.fill("#rollback-reason", "browser test")
    page.get_by_role("button", name="Roll back to Sandbox A").click()
    expect(page.get_by_role("heading", name="Rolled back")).to_be_visible()
    trail = page.locator("#audit-trail")
    for action in (
        "migration.started",
        "migration.tested",
        "migration.step.switch_primary",
        "migration.completed",
        "migration.rolled_back",
    ):
        expect(trail.get_by_text(action, exact=True)).to_be_visible()
    expect(trail.get_by_text("provider.switched", exact=True)).to_have_count(2)
    screenshot(page, "10-rolled-back-audit-trail")
    current.refresh_from_db()
    assert current.is_primary

    # The detail page: masked credentials, webhook URL, usage, settings.
    page.goto(f"{live_server.url}/admin/providers/integration/{current.pk}/")
    expect(page.get_by_role("heading", name="Credentials")).to_be_visible()
    expect(page.locator("#webhook-url")).to_contain_text(str(current.pk))
    assert "sk_test_SUPERSECRET" not in page.content()
    screenshot(page, "11-provider-detail")


def test_phone_sized_dashboard_stacks_cards(chromium, live_server, acme, screenshot):
    organization, _ = acme
    make_integration(organization=organization, display_name="Sandbox Spare", status="inactive")
    ServiceWindow.objects.create(organization=organization, contact="+5511987650001",
                                 last_inbound_at=timezone.now() - timedelta(hours=2))
    context = chromium.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    try:
        login(page, live_server)
        page.goto(f"{live_server.url}/admin/providers/")
        first = card(page, "Sandbox A").bounding_box()
        second = card(page, "Sandbox Spare").bounding_box()
        assert second["y"] >= first["y"] + first["height"]  # stacked, not side by side
        assert first["width"] > 300
        # Inactive is told by its label and symbol, not only its grey.
        expect(card(page, "Sandbox Spare").locator("[data-status-label]")).to_have_text("Inactive")
        expect(card(page, "Sandbox Spare").locator("[data-status-symbol]")).to_have_text("○")
        screenshot(page, "12-dashboard-phone")
        # The WhatsApp windows panel and its lookup fit the phone too: nothing scrolls sideways.
        page.fill("#id_acme_contact", "+5511987650001")
        page.get_by_role("button", name="Check").click()
        expect(page.locator("#windows-acme [role=status]")).to_contain_text("Open until")
        expect(page.locator("#windows-acme")).to_contain_text("open for another")
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 1
        assert page.locator("#id_acme_contact").bounding_box()["width"] <= 390
        screenshot(page, "13-dashboard-windows-phone")
    finally:
        context.close()
