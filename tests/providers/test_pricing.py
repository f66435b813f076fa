"""Price models: billing increments, tiers, fees, overrides, break-even, and their properties."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from providers.catalog import CATALOG, catalog_for_channel
from providers.pricing import (
    UNIT_MINUTE,
    PriceModel,
    Tier,
    break_even,
    display_money,
    display_unit_price,
    normalise_mix,
    parse_tiers,
)

D = Decimal


# ----- billing increments


@pytest.mark.parametrize(
    ("increment", "duration", "billed"),
    [(60, 1, 60), (60, 60, 60), (60, 61, 120), (6, 1, 6), (6, 6, 6), (6, 7, 12), (6, 59, 60), (6, 0, 0), (1, 37, 37)],
)
def test_billable_seconds_round_up_to_the_increment(increment, duration, billed):
    model = PriceModel(unit=UNIT_MINUTE, unit_price=D("0.01"), billing_increment_seconds=increment)
    assert model.billable_seconds(duration) == billed


def test_minimum_billable_seconds_applies_before_the_increment():
    model = PriceModel(unit=UNIT_MINUTE, unit_price=D("0.06"), billing_increment_seconds=6, minimum_billable_seconds=30)
    assert model.billable_seconds(5) == 30
    assert model.billable_seconds(31) == 36
    assert model.call_cost(5) == D("30") / D("60") * D("0.06")


def test_the_same_calls_bill_differently_on_telnyx_and_twilio():
    durations = {45: 10, 61: 2}  # ten 45-second calls and two of 61 seconds
    telnyx, twilio = CATALOG["telnyx"], CATALOG["twilio_voice"]
    # Telnyx: 45 s → 48 s, 61 s → 66 s; Twilio: 45 s → 60 s, 61 s → 120 s.
    assert telnyx.billed_minutes(durations) == D(10 * 48 + 2 * 66) / 60
    assert twilio.billed_minutes(durations) == D(10 * 60 + 2 * 120) / 60
    assert telnyx.monthly_cost(call_durations=durations) == D(612) / 60 * D("0.01")
    assert twilio.monthly_cost(call_durations=durations) == D(14) * D("0.013")


# ----- tiers and fees


TIERED = PriceModel(
    unit_price=D("0.09"),  # ignored once there are tiers
    tiers=(Tier(1000, D("0.05")), Tier(5000, D("0.04")), Tier(None, D("0.03"))),
    monthly_fee=D("10"),
)


@pytest.mark.parametrize(
    ("volume", "variable"),
    [
        (0, D("0")),
        (1, D("0.05")),
        (1000, D("50")),
        (1001, D("50.04")),
        (5000, D("50") + D("160")),
        (5001, D("210.03")),
        (10000, D("210") + D("150")),
    ],
)
def test_tiers_are_graduated_at_their_boundaries(volume, variable):
    assert TIERED.monthly_cost(volume=volume) == D("10") + variable
    assert TIERED.monthly_cost(volume=volume, include_fee=False) == variable


def test_last_capped_tier_price_carries_on_past_its_cap():
    model = PriceModel(tiers=(Tier(100, D("0.10")), Tier(200, D("0.05"))))
    assert model.monthly_cost(volume=300) == D("10") + D("5") + D("5")


def test_category_prices_win_over_tiers_and_tiers_price_the_rest():
    model = PriceModel(
        category_prices={"marketing": D("0.06")},
        tiers=(Tier(100, D("0.02")), Tier(None, D("0.01"))),
    )
    cost = model.monthly_cost(category_volumes={"marketing": 50, "utility": 150, None: 10})
    assert cost == D("50") * D("0.06") + D("100") * D("0.02") + D("60") * D("0.01")


def test_meta_prices_by_category_and_service_is_free():
    meta = CATALOG["meta_cloud"]
    cost = meta.monthly_cost(category_volumes={"marketing": 100, "utility": 200, "authentication": 10, "service": 999})
    assert cost == D("100") * D("0.0618") + D("210") * D("0.0289")
    assert meta.price_for(None) == D("0")  # uncategorised is a service conversation


def test_parse_tiers_refuses_an_open_tier_before_the_last_and_falling_caps():
    assert parse_tiers([{"up_to": 10, "unit_price": "1"}, {"up_to": None, "unit_price": "0.5"}]) == (
        Tier(10, D("1")),
        Tier(None, D("0.5")),
    )
    with pytest.raises(ValueError):
        parse_tiers([{"up_to": None, "unit_price": "1"}, {"up_to": 10, "unit_price": "0.5"}])
    with pytest.raises(ValueError):
        parse_tiers([{"up_to": 10, "unit_price": "1"}, {"up_to": 5, "unit_price": "0.5"}])


# ----- overrides


def test_override_beats_catalog():
    catalog = CATALOG["twilio_whatsapp"]
    model = catalog.with_overrides(
        {
            "pricing": {
                "unit_price": "0.004",
                "monthly_fee": 25,
                "currency": "eur",
                "category_prices": {"marketing": "0.07"},
                "tiers": [{"up_to": 100, "unit_price": "0.004"}, {"up_to": None, "unit_price": "0.002"}],
            }
        }
    )
    assert model.unit_price == D("0.004")
    assert model.monthly_fee == D("25")
    assert model.currency == "EUR"
    assert model.category_prices["marketing"] == D("0.07")
    assert model.category_prices["utility"] == catalog.category_prices["utility"]  # untouched
    assert model.monthly_cost(volume=150) == D("25") + D("0.4") + D("0.1")
    assert catalog.unit_price == D("0.005")  # the catalog itself is never changed
    assert catalog.with_overrides({}) is catalog


def test_float_overrides_carry_no_binary_noise():
    model = CATALOG["telnyx"].with_overrides({"pricing": {"unit_price": 0.1}})
    assert model.unit_price == D("0.1")


# ----- the catalog


def test_catalog_keeps_its_keys_and_lists_channels():
    assert {"meta_cloud", "twilio_whatsapp", "whatsapp_web", "twilio_voice", "telnyx",
            "sandbox_whatsapp", "sandbox_voip"} <= set(CATALOG)
    assert set(catalog_for_channel("whatsapp")) == {"meta_cloud", "twilio_whatsapp", "whatsapp_web"}
    assert set(catalog_for_channel("voip")) == {"twilio_voice", "telnyx"}
    assert "sandbox_voip" in catalog_for_channel("voip", listed_only=False)


# ----- display


@pytest.mark.parametrize(
    ("amount", "shown"),
    [(D("156.795"), D("156.80")), (D("156.794999"), D("156.79")), (D("0.005"), D("0.01")), (D("0.0049"), D("0.00"))],
)
def test_display_rounds_half_up_to_the_cent(amount, shown):
    assert display_money(amount) == shown


def test_unit_prices_display_at_full_precision():
    assert display_unit_price(D("0.0050")) == "0.005"
    assert display_unit_price(D("0.1")) == "0.10"
    assert display_unit_price(D("2")) == "2.00"


def test_mix_is_normalised_from_percentages():
    assert normalise_mix({"marketing": 30, "utility": 70}) == {"marketing": D("0.3"), "utility": D("0.7")}
    assert normalise_mix({"marketing": 0}) == {}


# ----- break-even


def test_break_even_of_a_fee_against_a_higher_unit_price():
    fee = PriceModel(unit=UNIT_MINUTE, unit_price=D("0.005"), monthly_fee=D("10"))
    points = break_even(CATALOG["twilio_voice"], fee)
    assert [p.volume for p in points] == [D("1250")]  # 10 / (0.013 - 0.005)
    assert points[0].cheaper_above == "b"
    assert points[0].cost == D("1250") * D("0.013")


def test_break_even_inside_a_tier():
    points = break_even(TIERED, PriceModel(unit_price=D("0.045")))
    # tiered: 10 + 50 + 0.04 (v - 1000) = 0.045 v  →  v = 4000
    assert [(p.volume, p.cheaper_above) for p in points] == [(D("4000"), "a")]


def test_break_even_uses_the_category_mix():
    meta, twilio = CATALOG["meta_cloud"], CATALOG["twilio_whatsapp"]
    assert break_even(meta, twilio, mix={"marketing": 1}) == []  # twilio is always dearer
    fee = meta.with_overrides({"pricing": {"monthly_fee": "50"}})
    points = break_even(fee, twilio, mix={"marketing": 50, "service": 50})
    # 50 + 0.0309 v = 0.03590 v  →  v = 10000
    assert [p.volume for p in points] == [D("10000")]


def test_break_even_of_call_prices_counts_increments():
    telnyx = CATALOG["telnyx"].with_overrides({"pricing": {"monthly_fee": "1"}})
    twilio = CATALOG["twilio_voice"]
    # 45 s calls: Telnyx bills 48/45 of talk time, Twilio 60/45.
    points = break_even(telnyx, twilio, average_call_seconds=45)
    factor_t, factor_w = D(48) / D(45), D(60) / D(45)
    expected = D(1) / (factor_w * D("0.013") - factor_t * D("0.01"))
    assert len(points) == 1
    assert abs(points[0].volume - expected) < D("1e-20")


def test_identical_models_never_break_even():
    assert break_even(CATALOG["telnyx"], CATALOG["telnyx"]) == []


# ----- properties

money = st.decimals(min_value=D("0"), max_value=D("1"), places=4, allow_nan=False, allow_infinity=False)
fees = st.decimals(min_value=D("0"), max_value=D("500"), places=2, allow_nan=False, allow_infinity=False)


@st.composite
def price_models(draw):
    caps = sorted(set(draw(st.lists(st.integers(min_value=1, max_value=50_000), max_size=3))))
    tiers = tuple(Tier(cap, draw(money)) for cap in caps)
    if tiers and draw(st.booleans()):
        tiers += (Tier(None, draw(money)),)
    categories = draw(st.dictionaries(st.sampled_from(["marketing", "utility", "authentication"]), money, max_size=3))
    return PriceModel(unit_price=draw(money), monthly_fee=draw(fees), tiers=tiers, category_prices=categories)


mixes = st.one_of(
    st.none(),
    st.dictionaries(st.sampled_from(["marketing", "utility", "service", "other"]),
                    st.integers(min_value=1, max_value=100), min_size=1, max_size=4),
)
volumes = st.integers(min_value=0, max_value=200_000)


@settings(max_examples=200, deadline=None)
@given(model=price_models(), mix=mixes, low=volumes, extra=volumes)
def test_cost_never_decreases_as_volume_grows(model, mix, low, extra):
    assert model.cost_for_volume(low + extra, mix=mix) >= model.cost_for_volume(low, mix=mix)


@settings(max_examples=200, deadline=None)
@given(model=price_models(), mix=mixes)
def test_zero_volume_costs_only_the_monthly_fee(model, mix):
    assert model.cost_for_volume(0, mix=mix) == model.monthly_fee
    assert model.monthly_cost() == model.monthly_fee
    assert model.monthly_cost(call_durations={}) == model.monthly_fee


@settings(max_examples=300, deadline=None)
@given(a=price_models(), b=price_models(), mix=mixes)
def test_break_even_is_where_the_costs_cross(a, b, mix):
    tolerance = D("1e-12")
    for point in break_even(a, b, mix=mix):
        cost_a, cost_b = a.cost_for_volume(point.volume, mix=mix), b.cost_for_volume(point.volume, mix=mix)
        assert abs(cost_a - cost_b) < tolerance
        assert abs(point.cost - cost_a) < tolerance
        # Just above, the announced one is cheaper; just below, it is not.
        epsilon = D("0.001")
        above_a, above_b = a.cost_for_volume(point.volume + epsilon, mix=mix), b.cost_for_volume(point.volume + epsilon, mix=mix)
        below_a, below_b = a.cost_for_volume(point.volume - epsilon, mix=mix), b.cost_for_volume(point.volume - epsilon, mix=mix)
        if point.cheaper_above == "a":
            assert above_a < above_b and below_a > below_b
        else:
            assert above_b < above_a and below_b > below_a


@settings(max_examples=200, deadline=None)
@given(a=price_models(), b=price_models(), mix=mixes, volume=volumes)
def test_no_change_of_order_between_reported_break_evens(a, b, mix, volume):
    """Whichever is cheaper at a volume is predicted by the break-evens below it."""
    points = break_even(a, b, mix=mix)
    cost_a, cost_b = a.cost_for_volume(volume, mix=mix), b.cost_for_volume(volume, mix=mix)
    if cost_a == cost_b:
        return
    below = [p for p in points if p.volume < volume]
    if below:
        expected = below[-1].cheaper_above
    else:
        # Below the first break-even the order is the opposite of what it announces.
        if not points:
            far_a, far_b = a.cost_for_volume(0, mix=mix), b.cost_for_volume(0, mix=mix)
            if far_a == far_b:
                return  # equal fees: the order is set by slopes, and never changes (no point)
            expected = "a" if far_a < far_b else "b"
        else:
            expected = "b" if points[0].cheaper_above == "a" else "a"
    assert (cost_a < cost_b) == (expected == "a")
