"""The cost analytics admin page and its CSV export: who sees what, and what they see."""

from __future__ import annotations

import csv
import io
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.test import Client

from integrations.models import Membership
from integrations.reports.costs import comparison_csv_rows
from integrations.services.costs.comparison import cost_comparison
from tests.factories import (
    SECRET_API_KEY,
    make_integration,
    make_membership,
    make_organization,
    make_user,
)
from tests.integrations.analytics_fixtures import current_month_traffic, register_test_providers

D = Decimal
PAGE = "/admin/providers/costs/"


def cents(amount: Decimal) -> str:
    return str(amount.quantize(D("0.01"), rounding=ROUND_HALF_UP))


@pytest.fixture
def tenants(organization, other_organization):
    register_test_providers()
    a = make_integration(organization=organization, provider_name="test_wa_official", display_name="Official A")
    b = make_integration(organization=organization, provider_name="test_wa_unofficial", display_name="Cheap B")
    current_month_traffic(organization, a, b, marketing=10, uncategorised=20)
    x = make_integration(organization=other_organization, provider_name="test_wa_official", display_name="Globex Only")
    current_month_traffic(other_organization, x, x, marketing=3, uncategorised=1)
    return {"a": a, "b": b}


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def admin_of(organization, role=Membership.Role.ADMIN):
    user = make_user(staff=True)
    make_membership(user=user, organization=organization, role=role)
    return user


def test_an_org_admin_sees_figures_chart_recommendations_and_calculator(organization, tenants):
    response = logged_in(admin_of(organization)).get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Cost analytics" in html and 'class="pc-chart"' in html and "<svg" in html
    actual = 10 * D("0.05") + D("5") + 20 * D("0.002")
    on_a = D("5") + 10 * D("0.05") + 20 * D("0.01")
    assert f"${cents(actual)}/month" in html  # current setup card
    assert f"Over these 6 months: saved ${cents(on_a - actual)}" in html
    assert "is unofficial and carried" in html  # B: 20 of 30 messages
    assert 'name="calc_volume"' in html
    assert "Globex" not in html
    assert SECRET_API_KEY not in html
    assert '<select id="pc-org"' not in html  # one organization: no selector


def test_calculator_form_shows_sorted_estimates(organization, tenants):
    response = logged_in(admin_of(organization)).get(
        PAGE, {"calc_channel": "whatsapp", "calc_volume": "1000", "mix_marketing": "40", "mix_utility": "60"}
    )
    html = response.content.decode()
    expected_meta = cents(400 * D("0.0618") + 600 * D("0.0289"))
    assert f"<td class=\"num\">${expected_meta}</td>" in html


def test_a_viewer_member_or_stranger_gets_no_page(organization, other_organization, tenants):
    for role in (Membership.Role.MEMBER, Membership.Role.VIEWER):
        assert logged_in(admin_of(organization, role)).get(PAGE).status_code == 404
    # Another organization's slug is a 404 even for an admin of this one.
    assert logged_in(admin_of(organization)).get(PAGE, {"org": other_organization.slug}).status_code == 404
    # Not staff: the admin login.
    outsider = make_user(staff=False)
    make_membership(user=outsider, organization=organization, role=Membership.Role.OWNER)
    response = logged_in(outsider).get(PAGE)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert Client().get(PAGE).status_code == 302


def test_several_organizations_get_a_selector_and_each_shows_only_its_own(organization, other_organization, tenants):
    user = admin_of(organization)
    make_membership(user=user, organization=other_organization, role=Membership.Role.OWNER)
    make_organization(name="Not Mine", slug="not-mine")
    client = logged_in(user)
    html = client.get(PAGE, {"org": other_organization.slug}).content.decode()
    assert '<select id="pc-org"' in html and "Not Mine" not in html
    assert "Globex Only" in html and "Official A" not in html and "Cheap B" not in html
    assert client.get(PAGE, {"org": "not-mine"}).status_code == 404


def test_superuser_may_pick_any_organization(organization, other_organization, tenants):
    superuser = make_user(superuser=True)
    html = logged_in(superuser).get(PAGE, {"org": other_organization.slug}).content.decode()
    assert "Globex Only" in html and "Official A" not in html


def test_csv_export_is_the_monthly_table(organization, tenants):
    response = logged_in(admin_of(organization)).get(PAGE, {"format": "csv", "channel": "whatsapp", "months": 3})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f"costs-{organization.slug}-3m.csv" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    header, *body = rows
    assert [row[0] for row in body][-1] == "total" and len(body) == 4
    total = dict(zip(header, body[-1], strict=True))
    actual = 10 * D("0.05") + D("5") + 20 * D("0.002")
    on_a = D("5") + 10 * D("0.05") + 20 * D("0.01")
    assert total["actual_cost"] == cents(actual)
    assert total["reference"] == "Official A" and total["reference_cost"] == cents(on_a)
    assert total["savings"] == cents(on_a - actual)
    assert total["cost_on:whatsapp:Cheap B"] == cents(30 * D("0.002"))
    assert total["cost_on:whatsapp:Meta WhatsApp Cloud API (catalog)"] == cents(10 * D("0.0618"))
    assert "Globex" not in response.content.decode()
    comparison = cost_comparison(organization=organization, channel="whatsapp", months=3)
    assert rows == comparison_csv_rows([comparison])


def test_csv_cells_cannot_become_spreadsheet_formulas(organization):
    register_test_providers()
    make_integration(organization=organization, provider_name="test_wa_official", display_name="=HYPERLINK(1)")
    response = logged_in(admin_of(organization)).get(PAGE, {"format": "csv", "channel": "whatsapp"})
    assert "'=HYPERLINK(1)" in response.content.decode()
