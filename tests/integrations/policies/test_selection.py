"""The weighted pick: stable per contact, shares close to the weights, rules first."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from integrations.services.policies.selection import (
    BUCKETS,
    RoutingPolicy,
    chosen_integration,
    contact_bucket,
    order_candidates,
    weighted_pick,
)

contacts = st.text(min_size=1, max_size=40)
versions = st.integers(min_value=1, max_value=10_000)


@st.composite
def weight_tables(draw):
    """2–5 integrations with whole-percent weights that add up to 100."""
    n = draw(st.integers(min_value=2, max_value=5))
    cuts = sorted(draw(st.lists(st.integers(min_value=0, max_value=100), min_size=n - 1, max_size=n - 1)))
    bounds = [0, *cuts, 100]
    return tuple((f"id-{i}", bounds[i + 1] - bounds[i]) for i in range(n))


@given(contact=contacts, version=versions)
def test_a_bucket_is_in_range_and_the_same_every_time(contact, version):
    bucket = contact_bucket(contact=contact, version=version)
    assert 0 <= bucket < BUCKETS
    assert contact_bucket(contact=contact, version=version) == bucket


@given(weights=weight_tables(), contact=contacts, version=versions)
def test_the_pick_is_stable_and_never_lands_on_a_zero_weight(weights, contact, version):
    picked = weighted_pick(weights=weights, contact=contact, version=version)
    assert picked == weighted_pick(weights=weights, contact=contact, version=version)
    assert dict(weights)[picked] > 0


@settings(max_examples=25, deadline=None)
@given(weights=weight_tables(), version=versions)
def test_shares_over_many_contacts_follow_the_weights(weights, version):
    n = 10_000
    counts: dict[str, int] = {}
    for i in range(n):
        picked = weighted_pick(weights=weights, contact=f"+55119{i:08d}", version=version)
        counts[picked] = counts.get(picked, 0) + 1
    for integration_id, percent in weights:
        share = 100 * counts.get(integration_id, 0) / n
        # 10,000 draws: one standard deviation is at most 0.5 points; 3 points is 6 of them.
        assert abs(share - percent) <= 3, (integration_id, percent, share)


def test_a_new_policy_version_reshuffles_some_contacts_but_a_held_one_does_not():
    weights = (("a", 50), ("b", 50))
    first = [weighted_pick(weights=weights, contact=f"c{i}", version=1) for i in range(200)]
    again = [weighted_pick(weights=weights, contact=f"c{i}", version=1) for i in range(200)]
    moved = [weighted_pick(weights=weights, contact=f"c{i}", version=2) for i in range(200)]
    assert first == again
    assert first != moved


def test_rules_match_before_weights_and_the_rest_keep_route_order():
    policy = RoutingPolicy(mode="split", weights=(("a", 100),), rules=(("internal", "c"),), version=1)
    assert chosen_integration(policy=policy, contact="x", tags=["internal"]) == "c"
    assert chosen_integration(policy=policy, contact="x", tags=["other"]) == "a"
    assert chosen_integration(policy=None, contact="x") is None
    primary_only = RoutingPolicy(mode="primary", weights=(), rules=(("internal", "c"),), version=3)
    assert chosen_integration(policy=primary_only, contact="x", tags=[]) is None
    route = ["p", "a", "c"]
    assert order_candidates(route, chosen="c", key=str) == ["c", "p", "a"]
    assert order_candidates(route, chosen=None, key=str) == route
    # A chosen integration that is not in the route (inactive) leaves the plain route.
    assert order_candidates(route, chosen="gone", key=str) == route


def test_the_cached_form_round_trips():
    policy = RoutingPolicy(mode="split", weights=(("a", 30), ("b", 70)), rules=(("vip", "b"),), version=7)
    assert RoutingPolicy.from_cached(policy.as_cached()) == policy


@settings(max_examples=50, deadline=None)
@given(low=st.integers(min_value=1, max_value=99), high=st.integers(min_value=1, max_value=100), seed=st.uuids())
def test_a_rollout_only_ever_moves_contacts_onto_its_target(low, high, seed):
    low, high = sorted((low, high))

    def on_target(share):
        weights = (("source", 100 - share), ("target", share)) if share < 100 else (("target", 100),)
        policy = RoutingPolicy(mode="split", weights=weights, rules=(), version=share,  # a new version each step
                               rollout_seed=str(seed), rollout_target="target")
        return {c for c in range(500) if chosen_integration(policy=policy, contact=str(c)) == "target"}

    assert on_target(low) <= on_target(high)
