"""Which integrations carry an (organization, channel)'s traffic, in order.

The route (primary first, then active fallbacks by priority) is cached under
``sb:org:<org id>:<channel>:route`` together with the route version it was computed at. Every
change to an organization's integrations bumps the version (``invalidate_route``), which makes
every cached copy stale at once, in every worker. The version is read *before* PostgreSQL, so a
resolver racing a switch can at worst store a route under a version that is already stale.

When the cache (Redis) cannot be reached, the route comes from PostgreSQL and a warning is
logged at most once per ``ROUTE_CACHE_WARNING_INTERVAL`` seconds: Redis failing never fails a
request.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from django.conf import settings
from django.core.cache import cache

from integrations.models import OrganizationIntegration
from integrations.selectors.integrations import route_ids
from integrations.services import metrics

logger = logging.getLogger(__name__)

_last_warning_at: dict[str, float] = {}

# The route's integration rows, kept in process per (organization, channel) and route version:
# (version, monotonic time loaded, rows). See route_integrations.
_rows_lock = threading.Lock()
_rows_by_route: dict[tuple[str, str], tuple[str, float, list[OrganizationIntegration]]] = {}
_miss_locks: dict[str, threading.Lock] = {}


@dataclass(frozen=True)
class Route:
    integration_ids: tuple[UUID, ...]
    version: str | None
    from_cache: bool

    @property
    def primary_id(self) -> UUID | None:
        return self.integration_ids[0] if self.integration_ids else None


def route_key(organization_id, channel: str) -> str:
    return f"sb:org:{organization_id}:{channel}:route"


def version_key(organization_id, channel: str) -> str:
    return f"sb:org:{organization_id}:{channel}:route:version"


def warn_cache_down(operation: str, exc: Exception) -> None:
    cause = f"{operation}:{type(exc).__name__}"
    now = time.monotonic()
    if now - _last_warning_at.get(cause, -1e9) >= settings.ROUTE_CACHE_WARNING_INTERVAL:
        _last_warning_at[cause] = now
        logger.warning(
            "Route cache unavailable during %s (%s); routing from PostgreSQL.",
            operation,
            type(exc).__name__,
        )


def resolve(*, organization_id, channel: str) -> Route:
    """The ordered integration ids for this organization and channel."""
    rkey, vkey = route_key(organization_id, channel), version_key(organization_id, channel)
    try:
        cached = cache.get_many([rkey, vkey])
    except Exception as exc:  # any cache failure: serve from PostgreSQL
        warn_cache_down("read", exc)
        metrics.route_looked_up(result="unavailable")
        return Route(route_ids(organization_id, channel), version=None, from_cache=False)

    version = cached.get(vkey)
    entry = cached.get(rkey)
    if version is not None and entry is not None and entry.get("version") == version:
        metrics.route_looked_up(result="hit")
        return Route(tuple(UUID(i) for i in entry["ids"]), version=version, from_cache=True)

    # One thread per process computes a missing route; the others (a batch's send threads all
    # miss together after a switch) wait for it and read what it stored.
    with _miss_lock(rkey):
        return _resolve_miss(organization_id, channel, rkey, vkey, version)


def _miss_lock(key: str) -> threading.Lock:
    with _rows_lock:
        return _miss_locks.setdefault(key, threading.Lock())


def _resolve_miss(organization_id, channel: str, rkey: str, vkey: str, version) -> Route:
    if version is not None:
        try:
            cached = cache.get_many([rkey, vkey])
        except Exception:
            cached = {}
        entry = cached.get(rkey)
        if cached.get(vkey) == version and entry is not None and entry.get("version") == version:
            metrics.route_looked_up(result="hit")
            return Route(tuple(UUID(i) for i in entry["ids"]), version=version, from_cache=True)
    try:
        if version is None:
            # add() keeps a version another worker set meanwhile; read back whichever won.
            cache.add(vkey, uuid.uuid4().hex, timeout=None)
            version = cache.get(vkey)
        ids = route_ids(organization_id, channel)
        if version is not None:
            cache.set(rkey, {"version": version, "ids": [str(i) for i in ids]}, timeout=settings.ROUTE_CACHE_TTL)
    except Exception as exc:
        warn_cache_down("write", exc)
        ids = route_ids(organization_id, channel)
        metrics.route_looked_up(result="unavailable")
        return Route(ids, version=None, from_cache=False)
    metrics.route_looked_up(result="miss")
    return Route(ids, version=version, from_cache=False)


def invalidate_route(*, organization_id, channel: str) -> None:
    """Make every cached route of this (organization, channel) stale. Call it on commit."""
    try:
        cache.set(version_key(organization_id, channel), uuid.uuid4().hex, timeout=None)
    except Exception as exc:
        # Without Redis, nothing cached can be served either; the TTL bounds what a Redis that
        # comes back could still hold.
        warn_cache_down("invalidate", exc)
        try:
            cache.delete(route_key(organization_id, channel))
        except Exception:
            pass


def route_integrations(*, organization, channel: str) -> list[OrganizationIntegration]:
    """The route's integrations as rows, in route order, scoped to the organization.

    The rows are kept in process under the route version they were read at: any change made
    through the services (a switch, a status or configuration change, a health failover) bumps
    the version and so replaces them at once in every worker. What changes without a new version
    (the circuit breaker's counters, written by every worker) is read again at least every
    ``DELIVERY_ROUTE_ROWS_MAX_AGE`` seconds; 0 reads the rows on every call. Without a version
    (Redis unreachable) nothing is kept.
    """
    route = resolve(organization_id=organization.pk, channel=channel)
    max_age = settings.DELIVERY_ROUTE_ROWS_MAX_AGE
    if route.version is None or max_age <= 0:
        return integrations_in_order(organization=organization, ids=route.integration_ids)
    key = (str(organization.pk), channel)
    now = time.monotonic()
    with _rows_lock:
        kept = _rows_by_route.get(key)
    if kept is not None and kept[0] == route.version and now - kept[1] < max_age:
        return list(kept[2])
    with _miss_lock(f"rows:{key}"):  # one thread reads the rows, the others wait and reuse them
        with _rows_lock:
            kept = _rows_by_route.get(key)
        if kept is not None and kept[0] == route.version and now - kept[1] < max_age:
            return list(kept[2])
        rows = integrations_in_order(organization=organization, ids=route.integration_ids)
        with _rows_lock:
            _rows_by_route[key] = (route.version, time.monotonic(), rows)
    return list(rows)


def forget_route_rows() -> None:
    """Drop every route's rows kept in this process."""
    with _rows_lock:
        _rows_by_route.clear()


def integrations_in_order(*, organization, ids: Sequence[UUID]) -> list[OrganizationIntegration]:
    if not ids:
        return []
    rows = {
        row.pk: row
        for row in OrganizationIntegration.objects.for_org(organization).filter(
            pk__in=ids, status=OrganizationIntegration.Status.ACTIVE
        )
    }
    for row in rows.values():
        row.organization = organization  # no lazy query per row (and per thread) later
    return [rows[i] for i in ids if i in rows]
