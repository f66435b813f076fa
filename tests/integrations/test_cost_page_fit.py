"""The cost page as an admin reads it: tables scroll in their own box, the calculator answers where
the reader is, break-even is computed against the primary where it exists, and savings have one
definition, explained once."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from integrations.models import Membership
from tests.factories import make_integration, make_membership, make_user
from tests.integrations.analytics_fixtures import current_month_traffic, register_test_providers

PAGE = "/admin/providers/costs/"


@pytest.fixture
def client_a(organization) -> Client:
    register_test_providers()
    user = make_user(staff=True)
    make_membership(user=user, organization=organization, role=Membership.Role.ADMIN)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def official_primary(organization):
    # $5/month + $0.05 marketing / $0.01 other messages: a fee, so it crosses fee-free prices.
    a = make_integration(organization=organization, provider_name="test_wa_official", display_name="Official A")
    b = make_integration(organization=organization, provider_name="test_wa_unofficial", display_name="Cheap B")
    current_month_traffic(organization, a, b, marketing=10, uncategorised=20)
    return a


def test_wide_tables_scroll_inside_their_own_box(client_a, official_primary):
    html = client_a.get(PAGE).content.decode()
    tables = html.count('<table class="pc-table">')
    wrapped = len(re.findall(r'<div class="pc-scroll"[^>]*>\s*<table class="pc-table">', html))
    assert tables >= 4 and wrapped == tables


def test_the_calculator_answers_where_the_reader_is_with_break_even_against_the_primary(client_a, official_primary):
    html = client_a.get(PAGE).content.decode()
    assert 'action="#pc-calc-result"' in html and 'id="pc-calc-result"' not in html  # nothing asked yet

    html = client_a.get(
        PAGE, {"calc_channel": "whatsapp", "calc_volume": "1000", "mix_marketing": "50", "mix_service": "50"}
    ).content.decode()
    assert 'id="pc-calc-result"' in html
    assert "Break-even with your primary, Official A" in html
    # Meta: $0.0309 a message without a fee; the primary: $5 + $0.03 a message. They cross at
    # 5,555.56 messages a month (5 / 0.0009), where both cost $171.67.
    assert "Official A is cheaper above 5,556 a month (both cost $171.67 there)" in html
    # The free bridge never crosses the primary: said in words, not a dash.
    assert "costs less at every volume with this mix." in html
    assert "This is your primary." in html


def test_savings_have_one_definition_explained_once(client_a, official_primary):
    html = client_a.get(PAGE).content.decode()
    assert "This month: saved" in html and "Over these 6 months: saved" in html
    assert html.count('id="definition-savings"') == 1
    assert html.count('href="#definition-savings"') >= 2  # every headline links to it
    dashboard = client_a.get("/admin/providers/").content.decode()
    assert "This month: saved" in dashboard and "#definition-savings" in dashboard
