"""Cost analytics: every figure recomputed here from the fixture rows and the price models."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest

from integrations.models import Message
from integrations.reports.costs import comparison_as_json, comparison_csv_rows, estimate_as_json
from integrations.services.costs.comparison import cost_comparison, month_summary
from integrations.services.costs.estimate import cost_estimate
from integrations.services.costs.options import integration_price_model
from providers.catalog import CATALOG
from providers.pricing import PriceModel, Tier
from tests.factories import make_integration
from tests.integrations.analytics_fixtures import (
    NOW,
    OfficialWhatsApp,
    UnofficialWhatsApp,
    at,
    call,
    message,
    register_test_providers,
)

D = Decimal
BILLABLE = ("sent", "delivered", "read")


def cents(amount: Decimal) -> str:
    return str(amount.quantize(D("0.01"), rounding=ROUND_HALF_UP))


@pytest.fixture(autouse=True)
def _providers(db):
    register_test_providers()


@pytest.fixture
def whatsapp(organization, other_organization):
    """Two integrations (official primary A, unofficial B with a price override) and rows in
    April and May 2026, plus rows that must not count."""
    a = make_integration(organization=organization, provider_name="test_wa_official", display_name="Official A")
    b = make_integration(
        organization=organization, provider_name="test_wa_unofficial", display_name="Cheap B",
        config={"pricing": {"unit_price": "0.001"}},
    )
    foreign = make_integration(organization=other_organization, provider_name="test_wa_official", display_name="Foreign")
    rows = [
        # April, on A
        *[message(organization, a, when=at(4), category="marketing", cost=D("0.05"), cost_source="catalog",
                  latency_ms=ms) for ms in (100, 200, 300)],
        *[message(organization, a, when=at(4, 11), status="delivered", category="utility") for _ in range(2)],
        message(organization, a, when=at(4, 12), status="failed", category="marketing", latency_ms=900),
        message(organization, a, when=at(4, 13), status="read", category="marketing", cost=D("0.0432"),
                cost_source="provider", latency_ms=400),
        message(organization, a, when=at(4, 14), status="queued", category="marketing"),
        message(organization, a, when=at(4, 14), direction="in"),
        # May: B takes the uncategorised traffic, A one marketing message priced by the provider
        *[message(organization, b, when=at(5), latency_ms=50) for _ in range(4)],
        message(organization, b, when=at(5, 2), status="failed"),
        message(organization, a, when=at(5, 3), category="marketing", cost=D("0.06"), cost_source="provider"),
        # A row whose integration was deleted: kept under its provider name.
        message(organization, None, when=at(5, 4), category="utility", cost=D("0.0339"), cost_source="catalog"),
    ]
    rows[-1].provider_name = "twilio_whatsapp"
    outside = [
        message(organization, a, when=at(3, 31), category="marketing"),  # before the window
        message(other_organization, foreign, when=at(4), category="marketing", cost=D("9")),  # another tenant
    ]
    Message.objects.bulk_create(rows + outside)
    return {"a": a, "b": b, "rows": rows}


def independent_figures(organization, rows, models: dict, months: list[tuple[int, int]]):
    """The comparison recomputed with plain loops over the fixture rows: per month, actual spend
    (provider price, else stored catalog price, else the model's price, plus fees) and the cost
    of the month's billable rows on each model (fee + per-row category price; no tiers here)."""
    result = {}
    for year, month in months:
        billable = [
            r for r in rows
            if r.organization_id == organization.pk and r.direction == "out" and r.status in BILLABLE
            and (r.created_at.year, r.created_at.month) == (year, month)
        ]
        actual = D(0)
        fees_paid = set()
        for row in billable:
            model = models[row.integration.pk if row.integration else row.provider_name]
            actual += row.cost if row.cost is not None else model.price_for(row.category or None)
            key = row.integration.pk if row.integration else row.provider_name
            if key not in fees_paid:
                actual += model.monthly_fee
                fees_paid.add(key)
        costs = {}
        for key, model in models.items():
            if not billable:
                costs[key] = D(0)
                continue
            costs[key] = model.monthly_fee + sum((model.price_for(r.category or None) for r in billable), D(0))
        result[(year, month)] = {"actual": actual, "costs": costs, "units": len(billable)}
    return result


def test_every_comparison_figure_matches_an_independent_recomputation(organization, whatsapp):
    a, b = whatsapp["a"], whatsapp["b"]
    comparison = cost_comparison(organization=organization, channel="whatsapp", months=3, now=NOW)
    data = comparison_as_json(comparison)

    model_a = OfficialWhatsApp.pricing
    model_b = UnofficialWhatsApp.pricing.with_overrides({"pricing": {"unit_price": "0.001"}})
    models = {
        a.pk: model_a, b.pk: model_b,
        "meta_cloud": CATALOG["meta_cloud"], "twilio_whatsapp": CATALOG["twilio_whatsapp"],
        "whatsapp_web": CATALOG["whatsapp_web"],
    }
    option_key = {a.pk: str(a.pk), b.pk: str(b.pk), "meta_cloud": "catalog:meta_cloud",
                  "twilio_whatsapp": "catalog:twilio_whatsapp", "whatsapp_web": "catalog:whatsapp_web"}
    expected = independent_figures(organization, whatsapp["rows"], models, [(2026, 4), (2026, 5), (2026, 6)])

    assert data["months"] == ["2026-04", "2026-05", "2026-06"]
    assert [o["key"] for o in data["options"]] == [str(a.pk), str(b.pk), "catalog:meta_cloud",
                                                  "catalog:twilio_whatsapp", "catalog:whatsapp_web"]
    totals = {key: D(0) for key in models}
    total_actual = D(0)
    for month_json, month in zip(data["monthly"], [(2026, 4), (2026, 5), (2026, 6)], strict=True):
        figures = expected[month]
        assert month_json["actual_cost"] == cents(figures["actual"])
        assert month_json["units"] == str(figures["units"])
        alternatives = {alt["key"]: alt["cost"] for alt in month_json["alternatives"]}
        for key, cost in figures["costs"].items():
            assert alternatives[option_key[key]] == cents(cost), (month, key)
            totals[key] += cost
        total_actual += figures["actual"]

    # The reference is the configured option dearest over the whole period: A.
    assert totals[a.pk] > totals[b.pk]
    for month_json, month in zip(data["monthly"], [(2026, 4), (2026, 5), (2026, 6)], strict=True):
        assert month_json["reference"]["key"] == str(a.pk)
        assert month_json["savings"] == cents(expected[month]["costs"][a.pk] - expected[month]["actual"])
    total = data["total"]
    assert total["actual_cost"] == cents(total_actual)
    assert total["savings"] == cents(totals[a.pk] - total_actual)
    assert total["savings_percent"] == cents((totals[a.pk] - total_actual) / totals[a.pk] * 100)
    assert total["cheapest"]["key"] == "catalog:whatsapp_web"
    assert {alt["key"]: alt["cost"] for alt in total["alternatives"]} == {
        option_key[key]: cents(value) for key, value in totals.items()
    }

    # The same figures by hand, as a finance person would check them.
    assert total["actual_cost"] == "10.31"  # 0.15 + 0.02 + 0.0432 + 5  +  0.06 + 5 + 0.004 + 0.0339
    assert total["reference"]["cost"] == "10.32"  # (4×0.05 + 2×0.01 + 5) + (0.05 + 5×0.01 + 5)
    assert data["monthly"][2]["savings_percent"] is None  # June: nothing sent, nothing to compare


def test_usage_per_integration_counts_success_rate_and_latency(organization, whatsapp):
    a, b = whatsapp["a"], whatsapp["b"]
    comparison = cost_comparison(organization=organization, channel="whatsapp", months=3, now=NOW)
    april = {u.key: u for u in comparison.months[0].usage.values()}
    usage_a = april[str(a.pk)]
    assert usage_a.units == 6  # 3 sent + 2 delivered + 1 read; failed, queued and inbound do not bill
    assert (usage_a.accepted, usage_a.failed) == (6, 1)
    assert usage_a.success_rate == D(6) / D(7)
    assert usage_a.average_latency_ms == D(100 + 200 + 300 + 900 + 400) / 5
    may = {u.key: u for u in comparison.months[1].usage.values()}
    assert may[str(b.pk)].success_rate == D("0.8")
    assert may["deleted:twilio_whatsapp"].actual_cost == D("0.0339")
    assert may["deleted:twilio_whatsapp"].label == "twilio_whatsapp (deleted integration)"


def test_override_beats_catalog_and_provider_price_beats_both(organization):
    register_test_providers()
    b = make_integration(organization=organization, provider_name="test_wa_unofficial", display_name="B",
                         config={"pricing": {"unit_price": "0.003"}})
    Message.objects.bulk_create([
        message(organization, b, when=at(6, 1)),  # no stored price: the override prices it
        message(organization, b, when=at(6, 2), cost=D("0.0071"), cost_source="provider"),
        message(organization, b, when=at(6, 3), cost=D("0.004"), cost_source="catalog"),  # price at send time
    ])
    comparison = cost_comparison(organization=organization, channel="whatsapp", months=1, now=NOW)
    usage = comparison.total.usage[str(b.pk)]
    assert usage.actual_cost == D("0.003") + D("0.0071") + D("0.004")
    assert comparison.total.option_costs[str(b.pk)] == 3 * D("0.003")  # the override, not 0.002


def test_calls_are_billed_per_call_in_each_providers_increments(organization):
    six = make_integration(organization=organization, provider_name="test_voip_six", display_name="Six")
    minute = make_integration(organization=organization, provider_name="test_voip_minute", display_name="Minute")
    from integrations.models import Call

    Call.objects.bulk_create([
        call(organization, six, when=at(4), duration=45, latency_ms=200),
        call(organization, six, when=at(4), duration=61, cost=D("0.011"), cost_source="provider"),
        call(organization, six, when=at(4), duration=7, cost=D("0.002"), cost_source="catalog"),
        call(organization, six, when=at(4), status="busy"),
        call(organization, six, when=at(4), status="no_answer"),
        call(organization, six, when=at(4), status="failed"),
        call(organization, minute, when=at(4), duration=45),
    ])
    comparison = cost_comparison(organization=organization, channel="voip", months=3, now=NOW)
    april = comparison.months[0]
    usage_six = april.usage[str(six.pk)]
    assert usage_six.units == D(48 + 66 + 12) / 60  # billed minutes on its own 6-second model
    assert usage_six.actual_cost == D(48) / 60 * D("0.01") + D("0.011") + D("0.002") + D("2")
    assert usage_six.success_rate == D(5) / D(6)
    assert april.usage[str(minute.pk)].units == D(1)
    # The same four calls (45, 61, 7, 45 s) on every option:
    assert april.option_costs[str(six.pk)] == D("2") + D(48 + 66 + 12 + 48) / 60 * D("0.01")
    assert april.option_costs[str(minute.pk)] == D(60 + 120 + 60 + 60) / 60 * D("0.013")
    assert april.option_costs["catalog:telnyx"] == D(174) / 60 * D("0.01")
    assert april.option_costs["catalog:twilio_voice"] == D(300) / 60 * D("0.013")
    data = comparison_as_json(comparison)
    assert data["monthly"][0]["units"] == "3.10"  # 2.1 + 1.0 billed minutes
    assert data["total"]["cheapest"]["key"] == "catalog:telnyx"


def test_recommendations_follow_the_data_and_the_configured_bars(organization, whatsapp):
    a, b = whatsapp["a"], whatsapp["b"]
    comparison = cost_comparison(
        organization=organization, channel="whatsapp", months=3, now=NOW,
        rule_overrides={"RELIABILITY_BAR": "0.8", "MIN_ATTEMPTS": 5, "UNOFFICIAL_SHARE": "0.3"},
    )
    by_kind = {}
    for recommendation in comparison.recommendations:
        by_kind.setdefault(recommendation.kind, []).append(recommendation)

    # A: 7 of 8 attempts (0.875), B: 4 of 5 (0.8): both clear 0.8; B is cheaper and not primary.
    cheapest = by_kind["cheapest_reliable"][0]
    assert cheapest.severity == "suggestion"
    assert cheapest.figures["option"] == str(b.pk)
    assert cheapest.figures["primary_cost"] - cheapest.figures["cost"] == D("10.32") - D("0.012")
    assert "80.00 %" in cheapest.reasoning

    # B carried 4 of 12 billable messages (33 %), above the 30 % bar.
    (unofficial,) = by_kind["unofficial_traffic"]
    assert unofficial.figures["share"] == D(4) / D(12)
    assert unofficial.severity == "warning"

    (not_cheapest,) = by_kind["primary_not_cheapest"]
    assert not_cheapest.figures["option"] == str(b.pk)

    # Break-even of the primary (fee 5) against the fee-free catalog options at the observed mix
    # (5 marketing, 3 utility, 4 uncategorised of 12).
    mix = {"marketing": D(5) / 12, "utility": D(3) / 12, None: D(4) / 12}

    def per_message(model):
        return sum((model.price_for(c) * share for c, share in mix.items()), D(0))

    points = {r.figures["b"]: r for r in by_kind["break_even"]}
    for name in ("meta_cloud", "twilio_whatsapp"):
        expected = D(5) / (per_message(CATALOG[name]) - per_message(OfficialWhatsApp.pricing))
        point = points[f"catalog:{name}"]
        assert abs(point.figures["volume"] - expected) < D("1e-18")
        assert point.figures["cheaper_above"] == str(a.pk)

    # With a stricter bar nobody qualifies, and the page says so instead of recommending.
    strict = cost_comparison(organization=organization, channel="whatsapp", months=3, now=NOW,
                                       rule_overrides={"RELIABILITY_BAR": "0.9", "MIN_ATTEMPTS": 5})
    (none,) = [r for r in strict.recommendations if r.kind == "cheapest_reliable"]
    assert none.title.startswith("No configured provider")
    # The default unofficial bar (25 %) flags B too; a 50 % bar does not.
    lenient = cost_comparison(organization=organization, channel="whatsapp", months=3, now=NOW,
                                        rule_overrides={"UNOFFICIAL_SHARE": "0.5"})
    assert not [r for r in lenient.recommendations if r.kind == "unofficial_traffic"]


def test_estimate_is_sorted_with_break_evens_against_the_cheapest(organization):
    make_integration(organization=organization, provider_name="test_wa_official", display_name="Official A")
    lines = cost_estimate(organization=organization, channel="whatsapp", monthly_volume=1000,
                                    mix={"marketing": 50, "service": 50})
    costs = [line.cost for line in lines]
    assert costs == sorted(costs)
    by_key = {line.option.key: line.cost for line in lines}
    assert by_key["catalog:meta_cloud"] == 500 * D("0.0618")
    assert by_key["catalog:twilio_whatsapp"] == 500 * D("0.0668") + 500 * D("0.005")
    assert by_key["catalog:whatsapp_web"] == 0
    official = next(line for line in lines if line.option.source == "configured")
    assert official.cost == D("5") + 500 * D("0.05") + 500 * D("0.01")
    assert lines[0].option.key == "catalog:whatsapp_web"
    data = estimate_as_json(lines, channel="whatsapp", monthly_volume=D(1000))
    assert [r["cost"] for r in data["results"]][:1] == ["0.00"]


def test_estimate_of_calls_uses_each_providers_increments(organization):
    lines = cost_estimate(organization=organization, channel="voip", monthly_volume=90,
                                    average_call_seconds=45)
    by_key = {line.option.key: line.cost for line in lines}
    # 90 minutes of 45-second calls: 120 calls, billed 48 s each on Telnyx, 60 s on Twilio.
    assert abs(by_key["catalog:telnyx"] - D(120 * 48) / 60 * D("0.01")) < D("1e-20")
    assert abs(by_key["catalog:twilio_voice"] - D(120 * 60) / 60 * D("0.013")) < D("1e-20")
    assert cents(by_key["catalog:telnyx"]) == "0.96"
    assert cents(by_key["catalog:twilio_voice"]) == "1.56"


def test_month_summary_and_headline(organization, whatsapp):
    summary = month_summary(organization=organization, now=at(5, 20))
    assert summary["month"] == "2026-05"
    assert summary["messages"] == 6
    assert summary["actual_cost"] == D("0.06") + D("5") + D("0.004") + D("0.0339")
    assert summary["reference_cost"] == D("5") + D("0.05") + D("5") * D("0.01")
    assert summary["savings"] == summary["reference_cost"] - summary["actual_cost"]
    assert summary["headline"].startswith("This month: saved $0.00 (0.04 %) against sending everything through")


def test_unit_price_labels():
    assert UnofficialWhatsApp.pricing.label() == "$0.002/message"
    assert OfficialWhatsApp.pricing.label() == "$0.01–0.05/message + $5.00/month"
    from tests.integrations.analytics_fixtures import SixSecondVoip

    assert SixSecondVoip.pricing.label() == "$0.01/min (6-second billing) + $2.00/month"
    tiered = type("Tiered", (), {"pricing": PriceModel(unit_price=D("9"), tiers=(Tier(1000, D("0.05")), Tier(None, D("0.03"))))})
    assert tiered.pricing.label() == "$0.03–0.05/message"  # the tiers, not the unused base price
    free = type("Free", (), {"pricing": CATALOG["whatsapp_web"]})
    assert free.pricing.label() == "Free"


def test_unit_price_label_applies_an_integrations_override(organization):
    b = make_integration(organization=organization, provider_name="test_wa_unofficial", display_name="B",
                         config={"pricing": {"unit_price": "0.0045"}})
    assert integration_price_model(b).label() == "$0.0045/message"


def test_csv_rows_hold_the_monthly_table(organization, whatsapp):
    comparison = cost_comparison(organization=organization, channel="whatsapp", months=3, now=NOW)
    rows = comparison_csv_rows([comparison])
    header, *body = rows
    assert header[:5] == ["month", "channel", "unit", "units", "actual_cost"]
    assert [row[0] for row in body] == ["2026-04", "2026-05", "2026-06", "total"]
    total = dict(zip(header, body[-1], strict=True))
    assert total["actual_cost"] == "10.31"
    assert total["reference_cost"] == "10.32"
    assert total["cost_on:whatsapp:Official A"] == "10.32"
    assert total["savings"] == "0.01"


def test_another_organizations_rows_never_count(organization, other_organization, whatsapp):
    comparison = cost_comparison(organization=other_organization, channel="whatsapp", months=3, now=NOW)
    assert comparison.total.actual_total == D("9") + OfficialWhatsApp.pricing.monthly_fee
    assert {o.label for o in comparison.options if o.source == "configured"} == {"Foreign"}
    mine = cost_comparison(organization=organization, channel="whatsapp", months=3, now=NOW)
    assert all(u.label != "Foreign" for u in mine.total.usage.values())
