"""The order in which one message tries its channel's integrations, under the channel's policy.

This is the single point where policies meet delivery: ``delivery.dispatch`` asks
``route_for_delivery`` instead of the plain route. Without a policy (or in ``primary`` mode
without a matching rule) the answer *is* the plain route: primary first, then active fallbacks by
priority.

Under a policy, one integration is moved to the front and the rest keep route order, so a
message whose chosen integration is skipped (breaker open) or fails over still falls back by
priority:

1. **Rules** first: the first rule whose tag the message carries names the integration.
2. **Weights** (``split``): the contact's bucket — a hash of (policy version, contact) in
   [0, 10000) — falls in one integration's cumulative range. The same contact keeps its sender
   while the policy's version holds; a change of weights reshuffles contacts once, by design.

A chosen integration that is no longer in the route (inactive, deleted) chooses nothing: the
message follows the plain route. An integration whose spend cap is reached is left out of the
route altogether, like one whose breaker is open (``spend_caps``). The policy is cached beside the route and keyed by the route
version, which every policy change bumps, so every worker sees a change at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache

from integrations.models import ChannelPolicy, OrganizationIntegration, Rollout, SpendCap
from integrations.services.routing import route_integrations, version_key, warn_cache_down

BUCKETS = 10_000  # a percent is 100 buckets: weights are whole percents
T = TypeVar("T")


@dataclass(frozen=True)
class RoutingPolicy:
    """What routing needs of a ``ChannelPolicy``: plain, hashable, cacheable."""

    mode: str
    weights: tuple[tuple[str, int], ...]  # (integration id, percent), sorted by id
    rules: tuple[tuple[str, str], ...]  # (tag, integration id), in match order
    version: int
    capped: frozenset[str] = frozenset()  # integrations whose spend cap is reached: skipped
    failure_actions: tuple[tuple[str, str], ...] = ()  # (provider error code, action)
    # While a rollout runs: its id seeds the buckets instead of the version, and its target's
    # share starts at bucket 0, so a contact moved to the target stays there as the share grows.
    rollout_seed: str = ""
    rollout_target: str = ""

    @classmethod
    def from_row(cls, row: ChannelPolicy | None, *, capped: frozenset[str] = frozenset(),
                 rollout: tuple[str, str] = ("", "")) -> RoutingPolicy:
        if row is None:
            return cls(mode=ChannelPolicy.Mode.PRIMARY, weights=(), rules=(), version=0, capped=capped)
        return cls(
            rollout_seed=rollout[0], rollout_target=rollout[1],
            mode=row.mode,
            weights=tuple(sorted((str(k), int(v)) for k, v in (row.weights or {}).items())),
            rules=tuple((str(r["tag"]), str(r["integration_id"])) for r in row.rules or ()),
            version=row.version,
            capped=capped,
            failure_actions=tuple(sorted((row.failure_actions or {}).items())),
        )

    def as_cached(self) -> dict:
        return {"mode": self.mode, "weights": [list(w) for w in self.weights],
                "rules": [list(r) for r in self.rules], "version": self.version, "capped": sorted(self.capped),
                "failure_actions": [list(a) for a in self.failure_actions],
                "rollout": [self.rollout_seed, self.rollout_target]}

    @classmethod
    def from_cached(cls, value: dict) -> RoutingPolicy:
        return cls(mode=value["mode"], weights=tuple((k, int(v)) for k, v in value["weights"]),
                   rules=tuple((t, i) for t, i in value["rules"]), version=int(value["version"]),
                   capped=frozenset(value.get("capped", ())),
                   failure_actions=tuple((c, a) for c, a in value.get("failure_actions", ())),
                   rollout_seed=value.get("rollout", ["", ""])[0], rollout_target=value.get("rollout", ["", ""])[1])


def contact_bucket(*, contact: str, version: int | str) -> int:
    """A stable bucket in [0, BUCKETS) for this contact under this policy version."""
    digest = hashlib.blake2b(f"{version}\x1f{contact}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


def weighted_pick(*, weights: Sequence[tuple[str, int]], contact: str, version: int | str) -> str | None:
    """The integration id whose share holds this contact's bucket (None without weights)."""
    bucket = contact_bucket(contact=contact, version=version)
    upper = 0
    for integration_id, percent in weights:
        upper += percent * (BUCKETS // 100)
        if bucket < upper:
            return integration_id
    return None


def chosen_integration(*, policy: RoutingPolicy | None, contact: str, tags: Iterable[str] = ()) -> str | None:
    """The id the policy puts first for this message, or None (plain route)."""
    if policy is None:
        return None
    tag_set = set(tags or ())
    for tag, integration_id in policy.rules:
        if tag in tag_set:
            return integration_id
    if policy.mode == ChannelPolicy.Mode.SPLIT and policy.weights:
        if policy.rollout_seed:
            ordered = sorted(policy.weights, key=lambda w: w[0] != policy.rollout_target)  # the target's range first
            return weighted_pick(weights=ordered, contact=contact, version=policy.rollout_seed)
        return weighted_pick(weights=policy.weights, contact=contact, version=policy.version)
    return None


def order_candidates(route: Sequence[T], *, chosen: str | None, key=lambda row: str(row.pk)) -> list[T]:
    """``route`` with ``chosen`` moved to the front; the rest keep their route order."""
    if chosen is None:
        return list(route)
    first = [row for row in route if key(row) == chosen]
    return first + [row for row in route if key(row) != chosen]


# --------------------------------------------------------------------------- cached read


def policy_key(organization_id, channel: str) -> str:
    return f"sb:org:{organization_id}:{channel}:policy"


def _policy_from_db(organization_id, channel: str) -> RoutingPolicy | None:
    row = ChannelPolicy.objects.filter(organization_id=organization_id, channel=channel).first()
    capped = frozenset(str(i) for i in SpendCap.objects.filter(
        organization_id=organization_id, integration__channel=channel, reached=True).values_list("integration_id", flat=True))
    if row is None and not capped:
        return None
    running = (Rollout.objects.filter(organization_id=organization_id, channel=channel, status=Rollout.Status.RUNNING)
               .values_list("id", "target_id").first())
    rollout = (str(running[0]), str(running[1])) if running else ("", "")
    return RoutingPolicy.from_row(row, capped=capped, rollout=rollout)


def routing_policy(*, organization_id, channel: str) -> RoutingPolicy | None:
    """The channel's policy as routing sees it: from the cache at the current route version,
    else from PostgreSQL (and cached). Redis failing never fails a delivery."""
    vkey, pkey = version_key(organization_id, channel), policy_key(organization_id, channel)
    try:
        cached = cache.get_many([vkey, pkey])
    except Exception:  # the route's own read already warned; serve from PostgreSQL
        return _policy_from_db(organization_id, channel)
    version, entry = cached.get(vkey), cached.get(pkey)
    if version is not None and entry is not None and entry.get("route_version") == version:
        return RoutingPolicy.from_cached(entry["policy"]) if entry["policy"] else None
    policy = _policy_from_db(organization_id, channel)
    if version is not None:
        try:
            cache.set(pkey, {"route_version": version, "policy": policy.as_cached() if policy else None},
                      timeout=settings.ROUTE_CACHE_TTL)
        except Exception as exc:  # served from PostgreSQL next time too; said once per interval
            warn_cache_down("policy write", exc)
    return policy


def route_for_delivery(*, organization, channel: str, contact: str, tags: Iterable[str] = ()) -> list[OrganizationIntegration]:
    """The integrations one message tries, in order: the route without the integrations whose
    spend cap is reached, reordered by the policy."""
    route = route_integrations(organization=organization, channel=channel)
    if not route:
        return route
    policy = routing_policy(organization_id=organization.pk, channel=channel)
    if policy is None:
        return route
    if policy.capped:
        route = [row for row in route if str(row.pk) not in policy.capped]
    return order_candidates(route, chosen=chosen_integration(policy=policy, contact=contact, tags=tags))


def failure_action(*, organization, channel: str, code: str | None) -> str | None:
    """The channel's action for a provider error code — ``retry``, ``fail_over`` or ``stop`` — or
    None: delivery's default for that error (docs/DELIVERY.md, the fail-over rule)."""
    if not code:
        return None
    policy = routing_policy(organization_id=organization.pk, channel=channel)
    return dict(policy.failure_actions).get(str(code)) if policy is not None else None
