"""The analytics API: figures, roles, validation and organization isolation."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from rest_framework.test import APIClient

from integrations.models import Membership
from tests.factories import SECRET_API_KEY, make_integration, make_membership, make_user
from tests.integrations.analytics_fixtures import current_month_traffic, register_test_providers

D = Decimal
COSTS = "/api/v1/analytics/costs/"
ESTIMATE = "/api/v1/analytics/estimate/"


def cents(amount: Decimal) -> str:
    return str(amount.quantize(D("0.01"), rounding=ROUND_HALF_UP))


@pytest.fixture
def tenants(organization, other_organization):
    register_test_providers()
    a = make_integration(organization=organization, provider_name="test_wa_official", display_name="Official A")
    b = make_integration(organization=organization, provider_name="test_wa_unofficial", display_name="Cheap B")
    current_month_traffic(organization, a, b, marketing=10, uncategorised=20)
    x = make_integration(organization=other_organization, provider_name="test_wa_official", display_name="Globex Only")
    y = make_integration(organization=other_organization, provider_name="test_wa_unofficial", display_name="Globex Spare")
    current_month_traffic(other_organization, x, y, marketing=7, uncategorised=3)
    return {"a": a, "b": b}


def client_for(organization, role):
    user = make_user(staff=False)
    make_membership(user=user, organization=organization, role=role)
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.parametrize("role", [r.value for r in Membership.Role])
def test_every_member_reads_the_comparison_with_figures_to_the_cent(organization, tenants, role):
    response = client_for(organization, role).get(COSTS, {"channel": "whatsapp", "months": 1},
                                                  HTTP_X_ORG_ID=str(organization.pk))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["organization"]["slug"] == organization.slug
    (whatsapp,) = body["channels"]
    total = whatsapp["total"]
    # Recomputed: A carried 10 marketing at the stored 0.05 plus its 5.00 fee; B 20 messages at 0.002.
    actual = 10 * D("0.05") + D("5") + 20 * D("0.002")
    on_a = D("5") + 10 * D("0.05") + 20 * D("0.01")
    expected_alternatives = {
        str(tenants["a"].pk): on_a,
        str(tenants["b"].pk): 30 * D("0.002"),
        "catalog:meta_cloud": 10 * D("0.0618"),
        "catalog:twilio_whatsapp": 10 * D("0.0668") + 20 * D("0.005"),
        "catalog:whatsapp_web": D("0"),
    }
    assert total["actual_cost"] == cents(actual)
    assert {a["key"]: a["cost"] for a in total["alternatives"]} == {k: cents(v) for k, v in expected_alternatives.items()}
    assert total["reference"]["key"] == str(tenants["a"].pk)
    assert total["savings"] == cents(on_a - actual)
    assert total["savings_percent"] == cents((on_a - actual) / on_a * 100)
    assert total["cheapest"]["key"] == "catalog:whatsapp_web"
    usage = {u["label"]: u for u in total["usage"]}
    assert usage["Official A"]["success_rate"] == str((D(10) / D(11)).quantize(D("0.0001")))
    assert "savings" in whatsapp["definitions"]


def test_both_channels_when_no_channel_is_given(organization, tenants):
    body = client_for(organization, "viewer").get(COSTS).json()
    assert [c["channel"] for c in body["channels"]] == ["whatsapp", "voip"]
    assert len(body["channels"][0]["monthly"]) == 6


def test_another_organizations_data_never_shows(organization, other_organization, tenants):
    client = client_for(organization, "owner")
    for path, method, data in ((COSTS, "get", None),
                               (ESTIMATE, "post", {"channel": "whatsapp", "monthly_volume": "100"})):
        spoofed = getattr(client, method)(path, data, format="json" if data else None,
                                          HTTP_X_ORG_ID=str(other_organization.pk))
        assert spoofed.status_code == 403
        assert "Globex" not in spoofed.content.decode()
        by_slug = getattr(client, method)(path, data, format="json" if data else None,
                                          HTTP_X_ORG_ID=other_organization.slug)
        assert by_slug.status_code == 403
        own = getattr(client, method)(path, data, format="json" if data else None)
        assert own.status_code == 200
        text = own.content.decode()
        assert "Globex" not in text and str(other_organization.pk) not in text
        assert SECRET_API_KEY not in text


def test_anonymous_requests_are_refused():
    client = APIClient()
    assert client.get(COSTS).status_code == 401
    assert client.post(ESTIMATE, {"channel": "voip", "monthly_volume": "1"}, format="json").status_code == 401


def test_query_and_body_are_validated(organization, tenants):
    client = client_for(organization, "member")
    assert client.get(COSTS, {"months": 0}).status_code == 400
    assert client.get(COSTS, {"channel": "sms"}).status_code == 400
    bad = client.post(ESTIMATE, {"channel": "whatsapp", "monthly_volume": "-1"}, format="json")
    assert bad.status_code == 400
    assert "monthly_volume" in bad.json()["errors"]
    assert client.post(ESTIMATE, {"channel": "fax", "monthly_volume": "1"}, format="json").status_code == 400


def test_rule_overrides_change_the_recommendations(organization, tenants):
    client = client_for(organization, "viewer")
    lenient = client.get(COSTS, {"channel": "whatsapp", "months": 1, "unofficial_share": "0.5"}).json()
    strict = client.get(COSTS, {"channel": "whatsapp", "months": 1, "unofficial_share": "0.6",
                                "reliability_bar": "0.5", "min_attempts": 1}).json()
    kinds = lambda body: [r["kind"] for r in body["channels"][0]["recommendations"]]  # noqa: E731
    # B carried 20 of 30 billable messages (66.7 %): flagged at a 50 % bar and at 60 %.
    assert "unofficial_traffic" in kinds(lenient) and "unofficial_traffic" in kinds(strict)
    none = client.get(COSTS, {"channel": "whatsapp", "months": 1, "unofficial_share": "0.7"}).json()
    assert "unofficial_traffic" not in kinds(none)
    assert strict["channels"][0]["rules"]["reliability_bar"] == "0.5000"


def test_estimate_returns_sorted_costs_with_break_evens(organization, tenants):
    response = client_for(organization, "viewer").post(
        ESTIMATE, {"channel": "whatsapp", "monthly_volume": "1000", "mix": {"marketing": 40, "utility": 60}},
        format="json", HTTP_X_ORG_ID=organization.slug,
    )
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    costs = [D(r["cost"]) for r in results]
    assert costs == sorted(costs)
    by_key = {r["key"]: r for r in results}
    assert by_key["catalog:meta_cloud"]["cost"] == cents(400 * D("0.0618") + 600 * D("0.0289"))
    assert by_key[str(tenants["a"].pk)]["cost"] == cents(D("5") + 400 * D("0.05") + 600 * D("0.01"))
    # The official A (fee 5) against the free bridge never breaks even; against nothing else either.
    assert results[0]["key"] == "catalog:whatsapp_web"
    assert all(r["break_even_with_cheapest"] == [] for r in results)


def test_estimate_break_even_between_call_providers(organization):
    response = client_for(organization, "member").post(
        ESTIMATE, {"channel": "voip", "monthly_volume": "50", "average_call_seconds": 60}, format="json"
    )
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["key"] for r in results] == ["catalog:telnyx", "catalog:twilio_voice"]
    assert results[0]["cost"] == "0.50" and results[1]["cost"] == "0.65"
