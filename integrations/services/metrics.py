"""Prometheus metrics: what services report, and the exposition ``/metrics`` serves.

Services report through the small functions below, one line at the place where the thing
happened (a delivery's outcome recorded, a route looked up, a breaker opened, a primary
switched, a health check answered). Counters and histograms live in this process; under
gunicorn or Celery, where one host runs many processes, prometheus-client's multiprocess mode
keeps them in files under ``PROMETHEUS_MULTIPROC_DIR`` (see ``config/metrics_dir.py``) and the
exposition merges every file of the directories in ``METRICS_COLLECT_DIRS``.

State that belongs to no process — how many breakers are open, how deep the queues are — is
read when Prometheus scrapes (``StateCollector``), so every process and host agrees on it.

Labels are bounded and carry nothing a tenant typed: provider registry names, channels,
outcomes, causes. No phone number, message body, display name or credential ever becomes a
label. The organization (its slug) is a label only when the operator sets
``METRICS_ORGANIZATION_LABEL`` (one series per organization: mind the cardinality); otherwise
that label is empty, which Prometheus treats as absent.
"""

from __future__ import annotations

import glob
import logging
import os
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.utils import timezone
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from integrations.selectors import operations

logger = logging.getLogger(__name__)

# Provider calls take tens of milliseconds to seconds (DESIGN: measure at 200 ms); the top
# buckets catch timeouts.
LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0, 30.0)

DELIVERIES = Counter(
    "switchboard_deliveries",
    "Messages and calls by the outcome their delivery recorded: sent, failed, or deferred for a retry.",
    ["kind", "channel", "provider", "outcome", "organization"],
)
PROVIDER_ATTEMPTS = Counter(
    "switchboard_provider_attempts",
    "Each try of one integration within a delivery round, by outcome "
    "(sent, unavailable, rejected, skipped_breaker, no_route, reconciled).",
    ["kind", "channel", "provider", "outcome", "organization"],
)
PROVIDER_CALL_SECONDS = Histogram(
    "switchboard_provider_call_seconds",
    "Time a provider took to answer: sends, calls placed and health checks.",
    ["channel", "provider", "operation"],
    buckets=LATENCY_BUCKETS,
)
DELIVERY_FAILOVERS = Counter(
    "switchboard_delivery_failovers",
    "Deliveries that went out through a fallback, by what happened to the integration tried first.",
    ["kind", "channel", "cause", "organization"],
)
ROUTE_LOOKUPS = Counter(
    "switchboard_route_cache_lookups",
    "Route resolutions: hit (served from the cache), miss (read from PostgreSQL and cached), "
    "unavailable (cache unreachable; read from PostgreSQL).",
    ["result"],
)
SWITCHES = Counter(
    "switchboard_switches",
    "Committed changes of a channel's primary, by cause (switched by a person, promoted, failover, "
    "failback, migration, rollback, ...).",
    ["channel", "cause", "organization"],
)
FAILOVERS = Counter(
    "switchboard_failovers",
    "Automatic failovers decided by health checks, by cause (health_checks, breaker_open).",
    ["channel", "cause", "organization"],
)
BREAKER_TRANSITIONS = Counter(
    "switchboard_breaker_transitions",
    "Circuit breakers opening and closing.",
    ["channel", "provider", "state"],
)

# Attempt outcomes that did not reach the provider: no latency to observe.
_NOT_CALLED = {"skipped_breaker", "no_route", "reconciled", "paced"}


def _organization(organization: Any) -> str:
    if not settings.METRICS_ORGANIZATION_LABEL or organization is None:
        return ""
    return str(getattr(organization, "slug", organization))


# --------------------------------------------------------------------------- hooks


def delivery_recorded(*, kind: str, row: Any, outcome: str, attempts: Sequence[dict], written: int) -> None:
    """A delivery round ended with ``outcome``. When it was ``written`` (this worker still held
    the row), counts the outcome, every attempt of this round (with its latency) and, for a
    send through a fallback, the failover."""
    if not written:
        return
    channel = getattr(row, "channel", None) or "voip"
    org = _organization(getattr(row, "organization", None))
    this_round = [a for a in attempts if attempts and a.get("round") == attempts[-1].get("round")]
    tried = [a for a in this_round if a.get("provider")]
    provider = (tried[-1]["provider"] if tried else "") or "none"
    DELIVERIES.labels(kind, channel, provider, outcome, org).inc()
    for attempt in this_round:
        attempt_provider = attempt.get("provider") or "none"
        PROVIDER_ATTEMPTS.labels(kind, channel, attempt_provider, attempt.get("outcome", ""), org).inc()
        if attempt.get("latency_ms") is not None and attempt.get("outcome") not in _NOT_CALLED:
            operation = "send_message" if kind == "message" else "place_call"
            PROVIDER_CALL_SECONDS.labels(channel, attempt_provider, operation).observe(attempt["latency_ms"] / 1000)
    if outcome == "sent" and len(this_round) > 1 and this_round[-1].get("outcome") == "sent":
        DELIVERY_FAILOVERS.labels(kind, channel, this_round[0].get("outcome", ""), org).inc()


def provider_called(*, channel: str, provider: str, operation: str, latency_ms: int | None) -> None:
    if latency_ms is not None:
        PROVIDER_CALL_SECONDS.labels(channel, provider, operation).observe(latency_ms / 1000)


def route_looked_up(*, result: str) -> None:
    ROUTE_LOOKUPS.labels(result).inc()


def primary_switched(*, channel: str, action: str, organization: Any) -> None:
    """``action`` is the audit action of the switch (``provider.switched``, ``provider.failover``,
    ``migration.switched``, ...); its last part names the cause."""
    cause = action.rsplit(".", 1)[-1]
    if action == "provider.switched":
        cause = "manual"
    SWITCHES.labels(channel, cause, _organization(organization)).inc()


def failed_over(*, channel: str, cause: str, organization: Any) -> None:
    FAILOVERS.labels(channel, cause, _organization(organization)).inc()


def breaker_changed(*, integration: Any, state: str) -> None:
    BREAKER_TRANSITIONS.labels(integration.channel, integration.provider_name, state).inc()


# --------------------------------------------------------------------------- exposition


class StateCollector:
    """Gauges read at scrape time from PostgreSQL and the broker: the same answer from every
    process. A source that cannot be read is left out of the scrape, never fails it."""

    def collect(self) -> Iterable[GaugeMetricFamily]:
        try:
            breakers = GaugeMetricFamily(
                "switchboard_breaker_open",
                "Integrations whose circuit breaker is open now (delivery skips them).",
                labels=["channel", "provider"],
            )
            for (channel, provider), count in sorted(operations.open_breaker_counts(now=timezone.now()).items()):
                breakers.add_metric([channel, provider], count)
            yield breakers
            waiting = GaugeMetricFamily(
                "switchboard_deliveries_waiting",
                "Messages and calls queued for delivery (including those waiting for a retry).",
                labels=["kind"],
            )
            for kind, count in sorted(operations.waiting_delivery_counts().items()):
                waiting.add_metric([kind], count)
            yield waiting
        except Exception as exc:
            logger.warning("Metrics: could not read delivery state from the database (%s).", type(exc).__name__)
        depths = operations.broker_queue_depths()
        if depths is not None:
            queue = GaugeMetricFamily(
                "switchboard_queue_depth", "Tasks waiting in each Celery queue of the broker.", labels=["queue"]
            )
            for name, depth in sorted(depths.items()):
                queue.add_metric([name], depth)
            yield queue


class _DirectoriesCollector:
    """prometheus-client's multiprocess merge over the files of several directories (the web's
    own and the workers' on the same host)."""

    def __init__(self, patterns: Sequence[str]):
        self.patterns = patterns

    def collect(self):
        files = sorted(
            {path for pattern in self.patterns for directory in glob.glob(pattern)
             for path in glob.glob(os.path.join(directory, "*.db"))}
        )
        return MultiProcessCollector.merge(files, accumulate=True)


class _ThisProcess:
    def collect(self):
        return REGISTRY.collect()


def exposition() -> tuple[bytes, str]:
    """The text Prometheus scrapes, and its content type: the merged files of every process
    when ``METRICS_COLLECT_DIRS`` is set (multiprocess mode), else this process's own metrics;
    then the state read now."""
    registry = CollectorRegistry(auto_describe=False)
    if settings.METRICS_COLLECT_DIRS:
        registry.register(_DirectoriesCollector(settings.METRICS_COLLECT_DIRS))
    else:
        registry.register(_ThisProcess())
    registry.register(StateCollector())
    return generate_latest(registry), CONTENT_TYPE_LATEST
