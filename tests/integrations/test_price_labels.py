"""One price label per integration, from one function, on every screen that shows a price; and
wizard step 1's cost of last month's usage on each option."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from integrations.models import Membership, Message
from integrations.services.costs.comparison import last_month_costs
from integrations.services.costs.options import price_label, price_model_for
from tests.factories import make_integration, make_membership, make_user


@pytest.fixture
def client_a(client, organization):
    user = make_user(username="alice", superuser=True)
    make_membership(user=user, organization=organization, role=Membership.Role.ADMIN)
    client.force_login(user)
    return client


@pytest.fixture
def primary(organization):
    # The price the organization negotiated, stored as the integration's override.
    return make_integration(
        organization=organization, display_name="Negotiated", config={"pricing": {"unit_price": "0.0123"}}
    )


def last_month_at(now: dt.datetime) -> dt.datetime:
    first_of_this_month = now.replace(day=1, hour=12, minute=0, second=0, microsecond=0)
    return first_of_this_month - dt.timedelta(days=10)


def sent(organization, integration, *, count: int, when: dt.datetime) -> None:
    Message.objects.bulk_create(
        Message(
            organization=organization,
            channel="whatsapp",
            to="+5511999990000",
            body="x",
            integration=integration,
            provider_name=integration.provider_name,
            status="delivered",
            created_at=when,
        )
        for _ in range(count)
    )


@pytest.mark.django_db
def test_the_integrations_price_reads_the_same_on_every_screen(client_a, organization, primary):
    label = price_label(primary.provider_name, integration=primary)
    assert label == "$0.0123/message"
    screens = {
        "dashboard": reverse("provider_admin:dashboard"),
        "wizard step 1": reverse("provider_admin:migrate", args=[organization.slug, "whatsapp"]),
        "detail": reverse("provider_admin:integration", args=[primary.pk]),
        "cost page": reverse("provider_costs:costs") + "?channel=whatsapp",
    }
    for screen, url in screens.items():
        page = client_a.get(url).content.decode()
        assert label in page, screen
        assert "$0.005/message" not in page, f"{screen} shows the catalog price of a provider priced otherwise"


@pytest.mark.django_db
def test_the_add_page_shows_each_providers_label(client_a, organization):
    page = client_a.get(reverse("admin:integrations_organizationintegration_add")).content.decode()
    assert price_label("meta_cloud") in page and price_label("whatsapp_web") in page
    assert "0 USD / message" not in page


@pytest.mark.django_db
def test_step_1_shows_last_months_cost_at_this_organizations_volume(client_a, organization, primary):
    now = timezone.now()
    sent(organization, primary, count=40, when=last_month_at(now))
    sent(organization, primary, count=7, when=now)  # this month: not part of "last month"

    figures = last_month_costs(
        organization=organization,
        channel="whatsapp",
        models={"negotiated": price_model_for("sandbox_whatsapp", config=primary.config), "web": price_model_for("whatsapp_web")},
    )
    assert figures["units"] == 40
    assert figures["costs"] == {"negotiated": Decimal("0.4920"), "web": Decimal("0")}

    page = client_a.get(reverse("provider_admin:migrate", args=[organization.slug, "whatsapp"])).content.decode()
    page = page.replace("&#x27;", "'")
    assert "billable messages would have cost on it" in page and " 40 billable messages" in page
    current = re.search(r'value="sandbox_whatsapp".*?</label>', page, re.S).group(0)
    assert "$0.0123/message" in current and "Last month's usage here: $0.49" in current
    web = re.search(r'value="whatsapp_web".*?</label>', page, re.S).group(0)
    assert "Last month's usage here: $0.00" in web


@pytest.mark.django_db
def test_step_1_says_when_there_is_nothing_to_compare(client_a, organization, primary):
    page = client_a.get(reverse("provider_admin:migrate", args=[organization.slug, "whatsapp"])).content.decode()
    page = page.replace("&#x27;", "'")
    assert "so there is no cost to compare yet" in page
    assert "Last month's usage here" not in page
