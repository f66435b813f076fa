"""The wizard and the provider pages as an organization admin lives with them, on a 390 px phone
and a 1280 px desktop: the wizard's state belongs to the migration, progress and rollback are
visible on the embedded default (eager Celery), one price everywhere, rollbacks counted as
rollbacks, one way to show a time, styled breadcrumbs, pages that fit."""

import datetime as dt
import os
import re
import shutil
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from config.celery import app as celery_app
from integrations.models import Membership, Message, OrganizationIntegration
from tests.browser.conftest import SCREENSHOTS
from tests.conftest import join_eager_threads
from tests.factories import make_integration, make_membership, make_organization, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-Test-12345"
WIDTHS = {"phone": (390, 844), "desktop": (1280, 900)}
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# The docs' copies are refreshed on request (`make screenshots`) so that an ordinary test run
# leaves the checkout as it found it.
UPDATE_DOCS = os.environ.get("UPDATE_DOCS_SCREENSHOTS") == "1"


@pytest.fixture
def acme(live_server):
    organization = make_organization(name="Acme", slug="acme")
    user = make_user(username="ana", password=PASSWORD, superuser=True)
    make_membership(user=user, organization=organization, role=Membership.Role.ADMIN)
    # The organization's negotiated price, stored as the integration's override.
    current = make_integration(
        organization=organization, display_name="Sandbox A", config={"label": "a", "pricing": {"unit_price": "0.0123"}}
    )
    return organization, current


@pytest.fixture(params=list(WIDTHS), ids=list(WIDTHS))
def sized(request, chromium):
    width, height = WIDTHS[request.param]
    context = chromium.new_context(viewport={"width": width, "height": height}, is_mobile=width < 600)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.width_name = request.param
    yield page
    context.close()


@pytest.fixture
def shot(sized):
    """Screenshots named by width, into test-artifacts/ (and docs/screenshots/ when asked to)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> None:
        path = SCREENSHOTS / f"{name}-{sized.width_name}.png"
        sized.screenshot(path=str(path), full_page=True)
        if UPDATE_DOCS:
            shutil.copy(path, DOCS_SCREENSHOTS / path.name)

    return take


@pytest.fixture
def eager():
    """The embedded default: Celery tasks run in this process (the migration's execution in a
    thread beside the request)."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    join_eager_threads()
    celery_app.conf.task_always_eager = previous


def login(page, live_server):
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", "ana")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#content")).to_be_visible()


def fits(page) -> None:
    """The page never scrolls sideways (wide content scrolls inside its own box)."""
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{page.url} is {overflow} px wider than the {page.viewport_size['width']} px window"


def wizard_url(live_server) -> str:
    return f"{live_server.url}/admin/providers/acme/whatsapp/migrate/"


def choose_sandbox(page) -> None:
    page.get_by_role("radio", name=re.compile("Sandbox WhatsApp")).check()
    page.get_by_role("button", name="Next step").click()
    expect(page.get_by_text("Step 2 of 5")).to_be_visible()


def test_the_wizard_state_belongs_to_the_migration(sized, shot, live_server, acme):
    page = sized
    login(page, live_server)
    page.goto(wizard_url(live_server))
    choose_sandbox(page)
    page.fill("input[name=display_name]", "Broken")
    page.fill("input[name=cfg__api_key]", "sk_browser_0123456789")
    page.select_option("select[name=cfg__health]", "down")
    page.get_by_role("button", name="Save and continue").click()

    # A failed test: what happened, what to do, the webhook URL of what is being configured.
    expect(page.get_by_text("Step 3 of 5")).to_be_visible()
    expect(page.locator(".pm-webhook code")).to_contain_text("/webhooks/")
    page.get_by_role("button", name="Test connection").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Broken did not answer the connection test")
    expect(alert).to_contain_text("What to do:")
    fits(page)
    shot("20-wizard-3-test-failed")

    # "Change configuration" edits what was entered; the secret stays write-only.
    page.get_by_role("button", name="Change configuration").click()
    expect(page.get_by_text("Change the configuration of “Broken”")).to_be_visible()
    expect(page.locator("input[name=display_name]")).to_have_value("Broken")
    expect(page.locator("select[name=cfg__health]")).to_have_value("down")
    expect(page.locator("input[name=cfg__api_key]")).to_have_value("")
    fits(page)
    shot("21-wizard-2-change-configuration")
    page.fill("input[name=display_name]", "Fixed")
    page.select_option("select[name=cfg__health]", "healthy")
    page.fill("input[name=cfg__latency_ms]", "1500")  # a slow provider: the test takes 1.5 s
    page.get_by_role("button", name="Save and continue").click()

    # The old failure is not shown for the edited integration; the test says "Testing…" while it runs.
    expect(page.get_by_text("Step 3 of 5")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_count(0)
    # What the page shows the moment the button is pressed (read in the same turn of the page's
    # script, before the 1.5 s answer replaces the page).
    label, status, hidden = page.get_by_role("button", name="Test connection").evaluate(
        """button => { button.click(); const region = button.form.querySelector("[data-busy-region]");
                       return [button.textContent, region.textContent, region.hidden]; }"""
    )
    assert (label, status, hidden) == ("Testing…", "Testing the connection to Fixed…", False)
    expect(page.get_by_text("Step 4 of 5")).to_be_visible()
    assert OrganizationIntegration.objects.filter(display_name="Fixed").count() == 1  # edited, not duplicated

    # Cancel: the integration this migration created is removed, the dashboard is as it was.
    page.get_by_role("button", name="Cancel migration").click()
    expect(page.get_by_text(re.compile("Migration cancelled; the primary did not change"))).to_be_visible()
    expect(page.locator(".pm-card h4", has_text="Fixed")).to_have_count(0)
    assert not OrganizationIntegration.objects.filter(display_name="Fixed").exists()


def test_progress_and_rollback_while_it_runs_on_the_embedded_default(sized, shot, live_server, acme, eager):
    page = sized
    login(page, live_server)
    page.goto(wizard_url(live_server))
    choose_sandbox(page)
    page.fill("input[name=display_name]", "Slow B")
    page.fill("input[name=cfg__latency_ms]", "5000")  # the health check takes 5 s, in the test and the run:
    # room to see it running and press "Roll back" on a busy machine
    page.get_by_role("button", name="Save and continue").click()
    page.get_by_role("button", name="Test connection").click()
    expect(page.get_by_text("Step 4 of 5")).to_be_visible(timeout=20_000)

    page.get_by_role("button", name="Start migration").click()
    expect(page.get_by_role("heading", name="Migrating…")).to_be_visible()
    running = page.locator("li.pm-exec-running")
    expect(running).to_contain_text("Verify the target is healthy")
    expect(running).to_contain_text("Running…")
    expect(page.get_by_text("Still running.")).to_be_visible()
    fits(page)
    shot("22-wizard-4-running-rollback-offered")

    page.get_by_role("button", name="Roll back to Sandbox A").click()
    expect(page.get_by_role("heading", name="Rolled back")).to_be_visible()
    join_eager_threads()
    expect(page.locator("li.pm-exec-not_run")).to_have_count(4)
    expect(page.locator("#audit-trail time[title]").first).to_be_visible()
    shot("23-rolled-back-while-running")

    # The history counts it as a rollback, not a failure; its time reads "… ago", full on hover.
    page.goto(f"{live_server.url}/admin/providers/acme/history/")
    expect(page.get_by_text("Rolled back by choice: 1 (not counted as failures)")).to_be_visible()
    started = page.locator("td time[title]").first
    expect(started).to_have_text(re.compile(r"just now|minute"))
    assert re.search(r"\d", started.get_attribute("title"))
    fits(page)
    shot("24-history-rollback")


def test_one_price_everywhere_and_last_months_cost_in_step_1(sized, shot, live_server, acme):
    organization, current = acme
    last_month = timezone.now().replace(day=1, hour=12) - dt.timedelta(days=10)
    Message.objects.bulk_create(
        Message(organization=organization, channel="whatsapp", to="+5511999990000", body="x", integration=current,
                provider_name=current.provider_name, status="delivered", created_at=last_month)
        for _ in range(200)
    )
    page = sized
    login(page, live_server)
    price = "$0.0123/message"

    page.goto(f"{live_server.url}/admin/providers/")
    expect(page.locator(".pm-card", has=page.locator("h4", has_text="Sandbox A"))).to_contain_text(price)
    page.goto(wizard_url(live_server))
    option = page.locator("label.pm-option", has=page.locator("input[value=sandbox_whatsapp]"))
    expect(option.locator("[data-price]")).to_have_text(price)
    expect(option.locator("[data-last-month-cost]")).to_have_text("Last month's usage here: $2.46")  # 200 × 0.0123
    expect(page.locator("label.pm-option", has=page.locator("input[value=whatsapp_web]"))).to_contain_text(
        "the number can be banned"
    )
    fits(page)
    shot("25-wizard-1-prices-and-last-month")
    page.goto(f"{live_server.url}/admin/providers/integration/{current.pk}/")
    expect(page.locator(".pm-card")).to_contain_text(price)
    fits(page)
    page.goto(f"{live_server.url}/admin/providers/costs/?channel=whatsapp")
    expect(page.locator("table.pc-table").first).to_contain_text(price)


def test_pages_fit_and_read_the_same_way(sized, shot, live_server, acme):
    organization, current = acme
    page = sized
    login(page, live_server)

    # Breadcrumbs styled as the admin's, on the provider pages too.
    page.goto(f"{live_server.url}/admin/providers/")
    crumbs = page.locator("nav.breadcrumbs")
    background = crumbs.evaluate("element => getComputedStyle(element).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "transparent"), background
    fits(page)

    # The detail page: each checkbox beside its label, not above it.
    page.goto(f"{live_server.url}/admin/providers/integration/{current.pk}/")
    box = page.locator("input[type=checkbox][name=delivery_receipts]").bounding_box()
    label = page.locator("label[for=id_delivery_receipts]").bounding_box()
    assert abs((box["y"] + box["height"] / 2) - (label["y"] + label["height"] / 2)) < 12
    assert label["x"] > box["x"]
    fits(page)
    shot("26-provider-detail")

    # The cost page fits; the calculator answers where the reader is.
    page.goto(f"{live_server.url}/admin/providers/costs/")
    fits(page)
    shot("13-cost-analytics")
    page.fill("input[name=calc_volume]", "1000")
    page.get_by_role("button", name="Estimate").click()
    expect(page).to_have_url(re.compile("#pc-calc-result$"))
    result = page.locator("#pc-calc-result")
    expect(result).to_contain_text("Break-even with your primary, Sandbox A")
    expect(result).to_be_in_viewport()
    fits(page)
