"""The figures of a cost comparison: per-integration usage, a month (or the period) with every
option's cost, recommendations, and the comparison that holds them. Plain data with derived
properties; ``comparison.cost_comparison`` fills them in."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from integrations.models import Organization
from integrations.services.costs.options import Option
from providers.pricing import ZERO

HUNDRED = Decimal("100")


@dataclass
class IntegrationUsage:
    key: str
    label: str
    provider_name: str
    units: Decimal = ZERO
    actual_cost: Decimal = ZERO
    accepted: int = 0
    failed: int = 0
    latency_total: int = 0
    latency_count: int = 0

    @property
    def attempts(self) -> int:
        return self.accepted + self.failed

    @property
    def success_rate(self) -> Decimal | None:
        return Decimal(self.accepted) / Decimal(self.attempts) if self.attempts else None

    @property
    def average_latency_ms(self) -> Decimal | None:
        return Decimal(self.latency_total) / Decimal(self.latency_count) if self.latency_count else None

    def add(self, other: IntegrationUsage) -> None:
        self.units += other.units
        self.actual_cost += other.actual_cost
        self.accepted += other.accepted
        self.failed += other.failed
        self.latency_total += other.latency_total
        self.latency_count += other.latency_count


@dataclass
class Window:
    """One month, or the whole period: usage, actual spend, and every option's cost."""

    label: str
    usage: dict[str, IntegrationUsage] = field(default_factory=dict)
    volumes: dict = field(default_factory=dict)  # category → messages, or duration → calls
    option_costs: dict[str, Decimal] = field(default_factory=dict)
    reference_key: str | None = None

    @property
    def actual_total(self) -> Decimal:
        return sum((u.actual_cost for u in self.usage.values()), ZERO)

    @property
    def units_total(self) -> Decimal:
        return sum((u.units for u in self.usage.values()), ZERO)

    @property
    def cheapest_key(self) -> str | None:
        if not self.option_costs:
            return None
        return min(self.option_costs, key=lambda k: (self.option_costs[k], k))

    @property
    def reference_cost(self) -> Decimal | None:
        return None if self.reference_key is None else self.option_costs[self.reference_key]

    @property
    def savings(self) -> Decimal | None:
        reference = self.reference_cost
        return None if reference is None else reference - self.actual_total

    @property
    def savings_percent(self) -> Decimal | None:
        reference, savings = self.reference_cost, self.savings
        if reference is None or savings is None or reference <= 0:
            return None
        return savings / reference * HUNDRED


@dataclass
class Recommendation:
    kind: str  # cheapest_reliable, break_even, unofficial_traffic, primary_not_cheapest
    severity: str  # info, suggestion, warning
    title: str
    reasoning: str
    figures: dict[str, Any] = field(default_factory=dict)


@dataclass
class Comparison:
    organization: Organization
    channel: str
    unit: str
    currency: str
    month_starts: list[dt.date]
    options: list[Option]
    months: list[Window]
    total: Window
    recommendations: list[Recommendation]
    rules: dict[str, Any]

    def option(self, key: str | None) -> Option | None:
        return next((o for o in self.options if o.key == key), None)

    @property
    def primary(self) -> Option | None:
        return next((o for o in self.options if o.is_primary), None)
