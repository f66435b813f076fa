"""Cost analytics: what each provider cost an organization, what it would have cost elsewhere,
what to do about it, and what a given volume would cost.

Every figure is computed from the organization's own rows (``integrations.analytics_selectors``)
and the providers' price models (``providers.pricing``), in ``Decimal``, and rounded once, at
display (``providers.pricing.display_money``). ``docs/COSTS.md`` gives the definitions a
finance person needs to recompute any figure with a spreadsheet.

Entry points:
- :func:`cost_comparison` — the monthly comparison, savings and recommendations of a channel;
- :func:`cost_estimate` — the calculator;
- :func:`month_summary` — the dashboard's cost strip;
- :func:`unit_price_label` — "$0.005/message" for provider cards (dashboard, wizard step 1);
- :func:`comparison_as_json`, :func:`estimate_as_json`, :func:`comparison_csv_rows` — output.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings

from integrations.analytics_selectors import UsageGroup, month_starts, next_month, usage_groups
from integrations.models import Channel, Organization, OrganizationIntegration
from integrations.selectors import integration_list
from providers.pricing import (
    CATALOG,
    UNIT_MINUTE,
    ZERO,
    PriceModel,
    billing_factor,
    break_even,
    catalog_for_channel,
    display_money,
    display_unit_price,
    normalise_mix,
    to_decimal,
)
from providers.registry import UnknownProvider, get_registry

HUNDRED = Decimal("100")

# Defaults of the recommendation rules; settings.SWITCHBOARD_ANALYTICS overrides any of them
# and the API accepts per-request values.
DEFAULT_RULES = {
    # Minimum success rate (accepted / (accepted + failed)) over the period to be recommended.
    "RELIABILITY_BAR": "0.98",
    # Attempts a provider needs in the period before its success rate is trusted.
    "MIN_ATTEMPTS": 20,
    # Share of the channel's billable volume above which an unofficial provider is flagged.
    "UNOFFICIAL_SHARE": "0.25",
}

DEFINITIONS = {
    "units": "WhatsApp: outbound messages the provider accepted (sent, delivered or read). "
    "VoIP: billed minutes of completed outbound calls, each call rounded up to its provider's billing increment.",
    "actual_cost": "Per billable row: the price the provider reported (cost_source = provider) when there is one, "
    "else the catalog price stored at send time, else the integration's current price model at its first-tier "
    "rate; plus each integration's monthly fee in every month it carried billable traffic.",
    "alternative_cost": "What the channel's whole usage of the month (same messages by category, same call "
    "durations) would have cost on that option's price model: monthly fee + category prices + graduated tiers. "
    "A month without billable traffic costs nothing on any option.",
    "cheapest": "The option with the lowest alternative cost.",
    "reference": "The single configured integration whose price model would have cost the most for the whole "
    "period's usage; the same reference is used for every month, so monthly savings add up to the total.",
    "savings": "Reference cost minus actual cost. savings_percent = savings / reference cost × 100.",
    "rounding": "Amounts are kept exact and rounded once, for display, half up to the cent; a total is the rounded "
    "sum of exact monthly values, so it may differ by a cent from the sum of the rounded months.",
}


def rules(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    merged = {**DEFAULT_RULES, **getattr(settings, "SWITCHBOARD_ANALYTICS", {}), **(overrides or {})}
    return {
        "RELIABILITY_BAR": to_decimal(merged["RELIABILITY_BAR"]),
        "MIN_ATTEMPTS": int(merged["MIN_ATTEMPTS"]),
        "UNOFFICIAL_SHARE": to_decimal(merged["UNOFFICIAL_SHARE"]),
    }


# ----- price models and options


def provider_class_or_none(provider_name: str):
    try:
        return get_registry().get(provider_name)
    except UnknownProvider:
        return None


def price_model_for(provider_name: str, *, config: Mapping[str, Any] | None = None) -> PriceModel:
    """The provider's price model (its class's, else the catalog's) with ``config`` overrides."""
    provider_class = provider_class_or_none(provider_name)
    base = provider_class.pricing if provider_class is not None else CATALOG.get(provider_name, PriceModel())
    return base.with_overrides(config)


def integration_price_model(integration: OrganizationIntegration) -> PriceModel:
    return price_model_for(integration.provider_name, config=integration.config)


@dataclass
class Option:
    """Somewhere the channel's traffic could go: a configured integration or a catalog entry."""

    key: str
    label: str
    provider_name: str
    source: str  # "configured" or "catalog"
    model: PriceModel
    official: bool | None
    integration: OrganizationIntegration | None = None

    @property
    def is_primary(self) -> bool:
        return bool(self.integration and self.integration.is_primary)

    @property
    def healthy(self) -> bool:
        """Can take traffic now: active, breaker closed, and not reported degraded or down."""
        i = self.integration
        return bool(
            i
            and i.status == OrganizationIntegration.Status.ACTIVE
            and not i.breaker_is_open()
            and i.health_status in (OrganizationIntegration.Health.HEALTHY, OrganizationIntegration.Health.UNKNOWN)
        )


def channel_options(*, organization: Organization, channel: str) -> list[Option]:
    """The organization's integrations of ``channel`` (with their overrides), then the listed
    catalog entries of providers it has not configured."""
    options: list[Option] = []
    configured_providers = set()
    for integration in integration_list(organization=organization, channel=channel):
        provider_class = provider_class_or_none(integration.provider_name)
        configured_providers.add(integration.provider_name)
        options.append(
            Option(
                key=str(integration.pk),
                label=integration.display_name,
                provider_name=integration.provider_name,
                source="configured",
                model=integration_price_model(integration),
                official=None if provider_class is None else bool(provider_class.official),
                integration=integration,
            )
        )
    for name, model in catalog_for_channel(channel).items():
        if name in configured_providers:
            continue
        provider_class = provider_class_or_none(name)
        options.append(
            Option(
                key=f"catalog:{name}",
                label=f"{provider_class.display_name if provider_class else name} (catalog)",
                provider_name=name,
                source="catalog",
                model=provider_class.pricing if provider_class else model,
                official=None if provider_class is None else bool(provider_class.official),
            )
        )
    return options


# ----- the comparison


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


def _cost_on(model: PriceModel, channel: str, volumes: Mapping) -> Decimal:
    """A month's usage on ``model``; a month without billable traffic costs nothing anywhere
    (no subscription is assumed for a month nobody used)."""
    if not volumes:
        return ZERO
    if channel == Channel.VOIP:
        return model.monthly_cost(call_durations={int(d): int(n) for d, n in volumes.items()})
    return model.monthly_cost(category_volumes={(c or None): n for c, n in volumes.items()})


def _group_usage(group: UsageGroup, *, model: PriceModel, label: str) -> IntegrationUsage:
    if group.channel == Channel.VOIP:
        units = model.billed_minutes(group.volumes)
        estimated = sum((model.call_cost(int(d)) * n for d, n in group.unpriced.items()), ZERO)
    else:
        units = Decimal(group.billable)
        estimated = sum((model.price_for(c or None) * n for c, n in group.unpriced.items()), ZERO)
    return IntegrationUsage(
        key=group.key,
        label=label,
        provider_name=group.provider_name,
        units=units,
        actual_cost=group.provider_cost + group.recorded_cost + estimated,
        accepted=group.accepted,
        failed=group.failed,
        latency_total=group.latency_total,
        latency_count=group.latency_count,
    )


def cost_comparison(
    *,
    organization: Organization,
    channel: str,
    months: int = 6,
    now: dt.datetime | None = None,
    rule_overrides: Mapping[str, Any] | None = None,
) -> Comparison:
    """The monthly comparison of ``channel`` for the last ``months`` calendar months (the
    current month included), with the period total and the recommendations."""
    starts = month_starts(months=months, now=now)
    options = channel_options(organization=organization, channel=channel)
    configured = {o.key: o for o in options if o.source == "configured"}
    groups = usage_groups(organization=organization, channel=channel, start=starts[0], end=next_month(starts[-1]))

    windows = {start: Window(label=start.strftime("%Y-%m")) for start in starts}
    for group in groups:
        option = configured.get(group.key)
        model = option.model if option else price_model_for(group.provider_name)
        label = option.label if option else f"{group.provider_name} (deleted integration)"
        usage = _group_usage(group, model=model, label=label)
        window = windows[group.month]
        if group.key in window.usage:
            window.usage[group.key].add(usage)
        else:
            window.usage[group.key] = usage
        for volume_key, count in group.volumes.items():
            window.volumes[volume_key] = window.volumes.get(volume_key, 0) + count

    for window in windows.values():
        for usage in window.usage.values():
            # A monthly fee is owed for every month the integration carried billable traffic.
            option = configured.get(usage.key)
            model = option.model if option else price_model_for(usage.provider_name)
            if usage.units > 0:
                usage.actual_cost += model.monthly_fee
        for option in options:
            window.option_costs[option.key] = _cost_on(option.model, channel, window.volumes)

    total = Window(label="total")
    for window in windows.values():
        for key, usage in window.usage.items():
            if key not in total.usage:
                total.usage[key] = IntegrationUsage(key=key, label=usage.label, provider_name=usage.provider_name)
            total.usage[key].add(usage)
        for volume_key, count in window.volumes.items():
            total.volumes[volume_key] = total.volumes.get(volume_key, 0) + count
        for key, cost in window.option_costs.items():
            total.option_costs[key] = total.option_costs.get(key, ZERO) + cost

    configured_totals = {k: v for k, v in total.option_costs.items() if k in configured}
    reference_key = max(configured_totals, key=lambda k: (configured_totals[k], k)) if configured_totals else None
    for window in [*windows.values(), total]:
        window.reference_key = reference_key

    models = [o.model for o in options]
    comparison = Comparison(
        organization=organization,
        channel=channel,
        unit=models[0].unit if models else ("minute" if channel == Channel.VOIP else "message"),
        currency=models[0].currency if models else "USD",
        month_starts=starts,
        options=options,
        months=[windows[s] for s in starts],
        total=total,
        recommendations=[],
        rules=rules(rule_overrides),
    )
    comparison.recommendations = recommendations_for(comparison)
    return comparison


# ----- recommendations


def _money(amount: Decimal | None) -> str:
    return "n/a" if amount is None else f"${display_money(amount):,}"


def _percent(fraction: Decimal | None) -> str:
    return "n/a" if fraction is None else f"{display_money(fraction * HUNDRED)} %"


def _units_text(comparison: Comparison, amount: Decimal) -> str:
    unit = "minutes" if comparison.unit == UNIT_MINUTE else "messages"
    return f"{display_money(amount):,} {unit}" if comparison.unit == UNIT_MINUTE else f"{amount:,.0f} {unit}"


def observed_mix(comparison: Comparison) -> dict[str, Decimal]:
    """The period's message categories as shares (empty for calls or no traffic)."""
    if comparison.channel == Channel.VOIP:
        return {}
    return normalise_mix({(c or "uncategorised"): n for c, n in comparison.total.volumes.items()})


def average_call_seconds(comparison: Comparison) -> int | None:
    if comparison.channel != Channel.VOIP or not comparison.total.volumes:
        return None
    calls = sum(comparison.total.volumes.values())
    seconds = sum(int(d) * n for d, n in comparison.total.volumes.items())
    return round(seconds / calls) if calls else None


def recommendations_for(comparison: Comparison) -> list[Recommendation]:
    """The rules, each computed from the comparison's own figures and the configured bars."""
    found: list[Recommendation] = []
    total = comparison.total
    bar, min_attempts, unofficial_bar = (
        comparison.rules["RELIABILITY_BAR"],
        comparison.rules["MIN_ATTEMPTS"],
        comparison.rules["UNOFFICIAL_SHARE"],
    )
    primary = comparison.primary
    configured = [o for o in comparison.options if o.source == "configured"]
    has_usage = bool(total.volumes)

    # 1. The cheapest configured provider whose measured success rate clears the bar.
    reliable = []
    for option in configured:
        usage = total.usage.get(option.key)
        if usage and usage.attempts >= min_attempts and usage.success_rate is not None and usage.success_rate >= bar:
            reliable.append((total.option_costs[option.key], option.key, option, usage))
    if has_usage and reliable:
        cost, _, best, usage = min(reliable, key=lambda item: (item[0], item[1]))
        if primary is not None and best.key != primary.key:
            primary_cost = total.option_costs[primary.key]
            found.append(
                Recommendation(
                    kind="cheapest_reliable",
                    severity="suggestion",
                    title=f"Save {_money(primary_cost - cost)} by routing through {best.label}",
                    reasoning=(
                        f"For this period's usage, {best.label} would have cost {_money(cost)} against "
                        f"{_money(primary_cost)} on the primary {primary.label}, and it delivered "
                        f"{_percent(usage.success_rate)} of {usage.attempts} attempts (bar: {_percent(bar)}, "
                        f"at least {min_attempts} attempts)."
                    ),
                    figures={"option": best.key, "cost": cost, "primary_cost": primary_cost,
                             "success_rate": usage.success_rate, "attempts": usage.attempts},
                )
            )
        else:
            found.append(
                Recommendation(
                    kind="cheapest_reliable",
                    severity="info",
                    title=f"{best.label} is the cheapest provider that meets the reliability bar",
                    reasoning=(
                        f"{best.label} would cost {_money(cost)} for this period's usage and delivered "
                        f"{_percent(usage.success_rate)} of {usage.attempts} attempts (bar: {_percent(bar)})."
                    ),
                    figures={"option": best.key, "cost": cost, "success_rate": usage.success_rate},
                )
            )
    elif has_usage and configured:
        found.append(
            Recommendation(
                kind="cheapest_reliable",
                severity="info",
                title="No configured provider has shown the required reliability yet",
                reasoning=(
                    f"None of the configured providers delivered at least {_percent(bar)} of at least "
                    f"{min_attempts} attempts in this period."
                ),
                figures={"bar": bar, "min_attempts": min_attempts},
            )
        )

    # 2. Break-even volumes between the primary and each other option, at the observed mix.
    if primary is not None:
        months_with_traffic = sum(1 for w in comparison.months if w.volumes) or 1
        average_units = total.units_total / months_with_traffic
        mix = observed_mix(comparison) or None
        seconds = average_call_seconds(comparison)
        for option in comparison.options:
            if option.key == primary.key:
                continue
            for point in break_even(primary.model, option.model, mix=mix, average_call_seconds=seconds):
                cheaper, dearer = (primary, option) if point.cheaper_above == "a" else (option, primary)
                side = "above" if average_units > point.volume else "below"
                found.append(
                    Recommendation(
                        kind="break_even",
                        severity="info",
                        title=f"{cheaper.label} is cheaper than {dearer.label} above {_units_text(comparison, point.volume)} a month",
                        reasoning=(
                            f"Both cost {_money(point.cost)} at {_units_text(comparison, point.volume)} a month"
                            + (" with this period's category mix" if mix else "")
                            + (f" and calls of {seconds} s on average" if seconds else "")
                            + f". Your average month ({_units_text(comparison, average_units)}) is {side} it."
                        ),
                        figures={"a": primary.key, "b": option.key, "volume": point.volume,
                                 "cheaper_above": cheaper.key, "cost": point.cost},
                    )
                )

    # 3. An unofficial provider carrying much of the traffic.
    channel_units = total.units_total
    for option in configured:
        usage = total.usage.get(option.key)
        if option.official is not False or not usage or channel_units <= 0:
            continue
        share = usage.units / channel_units
        if share >= unofficial_bar:
            found.append(
                Recommendation(
                    kind="unofficial_traffic",
                    severity="warning",
                    title=f"{option.label} is unofficial and carried {_percent(share)} of the traffic",
                    reasoning=(
                        f"{option.label} ({option.provider_name}) is not an official API: the number can be "
                        f"banned without notice. It carried {_units_text(comparison, usage.units)} of "
                        f"{_units_text(comparison, channel_units)} this period (warning above {_percent(unofficial_bar)}); "
                        "keep an official provider as fallback, or move customer-facing traffic to one."
                    ),
                    figures={"option": option.key, "share": share, "bar": unofficial_bar},
                )
            )

    # 4. The primary is not the cheapest provider that could take traffic right now.
    healthy = [o for o in configured if o.healthy]
    if primary is not None and has_usage and healthy:
        cheapest = min(healthy, key=lambda o: (total.option_costs[o.key], o.key))
        if cheapest.key != primary.key and total.option_costs[cheapest.key] < total.option_costs[primary.key]:
            found.append(
                Recommendation(
                    kind="primary_not_cheapest",
                    severity="suggestion",
                    title=f"The primary {primary.label} is not the cheapest healthy option",
                    reasoning=(
                        f"{cheapest.label} is active and healthy and would have cost "
                        f"{_money(total.option_costs[cheapest.key])} for this period's usage, against "
                        f"{_money(total.option_costs[primary.key])} on {primary.label}."
                    ),
                    figures={"option": cheapest.key, "cost": total.option_costs[cheapest.key],
                             "primary_cost": total.option_costs[primary.key]},
                )
            )
    return found


# ----- the calculator


@dataclass
class EstimateLine:
    option: Option
    cost: Decimal
    break_even_with_cheapest: list = field(default_factory=list)


def cost_estimate(
    *,
    organization: Organization,
    channel: str,
    monthly_volume: Decimal | int,
    mix: Mapping[str, Any] | None = None,
    average_call_seconds: int | None = None,
) -> list[EstimateLine]:
    """The monthly cost of ``monthly_volume`` units (messages, or minutes of talk time) on every
    option of ``channel``, cheapest first, each with its break-even volumes against the cheapest."""
    volume = to_decimal(monthly_volume)
    if volume < 0:
        raise ValueError("The monthly volume cannot be negative.")
    shares = normalise_mix(mix) if channel != Channel.VOIP else {}
    lines = []
    for option in channel_options(organization=organization, channel=channel):
        cost = option.model.cost_for_volume(
            volume, mix=shares or None, billed_seconds_per_second=billing_factor(option.model, average_call_seconds)
        )
        lines.append(EstimateLine(option=option, cost=cost))
    lines.sort(key=lambda line: (line.cost, line.option.key))
    if lines:
        cheapest = lines[0]
        for line in lines[1:]:
            line.break_even_with_cheapest = break_even(
                cheapest.option.model, line.option.model, mix=shares or None, average_call_seconds=average_call_seconds
            )
    return lines


# ----- small summaries for other screens


def month_summary(*, organization: Organization, now: dt.datetime | None = None) -> dict[str, Any]:
    """The dashboard's cost strip for the current month: per channel, units and actual cost, and
    savings against the most expensive configured provider for this month's usage."""
    summary: dict[str, Any] = {"month": month_starts(months=1, now=now)[0].strftime("%Y-%m"), "channels": {}}
    actual_total = reference_total = ZERO
    has_reference = False
    for channel in Channel.values:
        comparison = cost_comparison(organization=organization, channel=channel, months=1, now=now)
        window = comparison.total
        summary["channels"][channel] = {
            "unit": comparison.unit,
            "units": window.units_total,
            "actual_cost": window.actual_total,
            "reference_cost": window.reference_cost,
            "savings": window.savings,
        }
        actual_total += window.actual_total
        if window.reference_cost is not None:
            reference_total += window.reference_cost
            has_reference = True
    savings = reference_total - actual_total if has_reference else None
    summary.update(
        actual_cost=actual_total,
        reference_cost=reference_total if has_reference else None,
        savings=savings,
        savings_percent=(savings / reference_total * HUNDRED) if has_reference and reference_total > 0 else None,
        messages=summary["channels"][Channel.WHATSAPP]["units"],
        call_minutes=summary["channels"][Channel.VOIP]["units"],
    )
    summary["headline"] = (
        f"Monthly savings: {_money(savings)} ({display_money(summary['savings_percent'])} % vs single provider)"
        if summary["savings_percent"] is not None
        else "Monthly savings: n/a"
    )
    return summary


def unit_price_label(provider_class, integration: OrganizationIntegration | None = None) -> str:
    """A short price for a provider card: "$0.005/message", "$0.0289–0.0618/message",
    "$0.013/min (per-minute billing)", "Free", with "+ $10.00/month" when there is a fee.
    With ``integration``, its price overrides apply."""
    model = provider_class.pricing.with_overrides(integration.config if integration is not None else None)
    return price_model_label(model)


def price_model_label(model: PriceModel) -> str:
    """:func:`unit_price_label` for a price model on its own."""
    unit = "min" if model.unit == UNIT_MINUTE else "message"
    base_prices = [t.unit_price for t in model.tiers] if model.tiers else [model.unit_price]
    prices = sorted({*base_prices, *model.category_prices.values()})
    positive = [p for p in prices if p > 0]
    if not positive:
        text = "Free"
    elif len(prices) == 1 or (len(positive) == 1 and not model.category_prices):
        text = f"${display_unit_price(positive[0])}/{unit}"
    else:
        text = f"${display_unit_price(prices[0])}–{display_unit_price(prices[-1])}/{unit}"
    if model.unit == UNIT_MINUTE and positive:
        increment = model.billing_increment_seconds
        text += " (per-minute billing)" if increment == 60 else f" ({increment}-second billing)"
    if model.monthly_fee > 0:
        text += f" + ${display_money(model.monthly_fee)}/month"
    return text


# ----- output


def _money_out(amount: Decimal | None) -> str | None:
    return None if amount is None else str(display_money(amount))


def _rate_out(rate: Decimal | None) -> str | None:
    return None if rate is None else str(rate.quantize(Decimal("0.0001")))


def _units_out(comparison_unit: str, amount: Decimal) -> str:
    return str(display_money(amount)) if comparison_unit == UNIT_MINUTE else str(int(amount))


def _window_json(comparison: Comparison, window: Window) -> dict[str, Any]:
    cheapest = comparison.option(window.cheapest_key)
    reference = comparison.option(window.reference_key)
    return {
        "month": window.label,
        "units": _units_out(comparison.unit, window.units_total),
        "actual_cost": _money_out(window.actual_total),
        "usage": [
            {
                "key": u.key,
                "label": u.label,
                "provider_name": u.provider_name,
                "units": _units_out(comparison.unit, u.units),
                "actual_cost": _money_out(u.actual_cost),
                "attempts": u.attempts,
                "failed": u.failed,
                "success_rate": _rate_out(u.success_rate),
                "average_latency_ms": None if u.average_latency_ms is None else str(display_money(u.average_latency_ms)),
            }
            for u in window.usage.values()
        ],
        "alternatives": [
            {"key": o.key, "label": o.label, "source": o.source, "cost": _money_out(window.option_costs[o.key])}
            for o in comparison.options
        ],
        "cheapest": None if cheapest is None else {"key": cheapest.key, "label": cheapest.label,
                                                   "cost": _money_out(window.option_costs[cheapest.key])},
        "reference": None if reference is None else {"key": reference.key, "label": reference.label,
                                                     "cost": _money_out(window.reference_cost)},
        "savings": _money_out(window.savings),
        "savings_percent": _money_out(window.savings_percent),
    }


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    return value


def comparison_as_json(comparison: Comparison) -> dict[str, Any]:
    return {
        "channel": comparison.channel,
        "unit": comparison.unit,
        "currency": comparison.currency,
        "months": [m.strftime("%Y-%m") for m in comparison.month_starts],
        "options": [
            {
                "key": o.key,
                "label": o.label,
                "provider_name": o.provider_name,
                "source": o.source,
                "official": o.official,
                "is_primary": o.is_primary,
                "price_label": price_model_label(o.model),
                "price_model": o.model.describe(),
            }
            for o in comparison.options
        ],
        "monthly": [_window_json(comparison, w) for w in comparison.months],
        "total": _window_json(comparison, comparison.total),
        "recommendations": [
            {"kind": r.kind, "severity": r.severity, "title": r.title, "reasoning": r.reasoning,
             "figures": {k: _json_value(v) for k, v in r.figures.items()}}
            for r in comparison.recommendations
        ],
        "rules": {k.lower(): _json_value(v) for k, v in comparison.rules.items()},
        "definitions": DEFINITIONS,
    }


def estimate_as_json(lines: list[EstimateLine], *, channel: str, monthly_volume: Decimal) -> dict[str, Any]:
    return {
        "channel": channel,
        "monthly_volume": str(monthly_volume),
        "results": [
            {
                "key": line.option.key,
                "label": line.option.label,
                "provider_name": line.option.provider_name,
                "source": line.option.source,
                "official": line.option.official,
                "cost": _money_out(line.cost),
                "price_label": price_model_label(line.option.model),
                "break_even_with_cheapest": [
                    {"volume": str(p.volume.quantize(Decimal("0.01"))), "cost": _money_out(p.cost),
                     "cheaper_above": lines[0].option.key if p.cheaper_above == "a" else line.option.key}
                    for p in line.break_even_with_cheapest
                ],
            }
            for line in lines
        ],
        "rounding": DEFINITIONS["rounding"],
    }


def comparison_csv_rows(comparisons: list[Comparison]) -> list[list[str]]:
    """The monthly table as spreadsheet rows: one row per month and channel, then a total row
    per channel. Costs are rounded to the cent; units as shown on the page."""
    option_labels: list[tuple[str, str]] = []
    for comparison in comparisons:
        for option in comparison.options:
            pair = (comparison.channel, option.label)
            if pair not in option_labels:
                option_labels.append(pair)
    header = ["month", "channel", "unit", "units", "actual_cost", "cheapest", "cheapest_cost",
              "reference", "reference_cost", "savings", "savings_percent"]
    header += [f"cost_on:{channel}:{label}" for channel, label in option_labels]
    rows = [header]
    for comparison in comparisons:
        for window in [*comparison.months, comparison.total]:
            cheapest = comparison.option(window.cheapest_key)
            reference = comparison.option(window.reference_key)
            costs_by_label = {o.label: window.option_costs[o.key] for o in comparison.options}
            row = [
                window.label,
                comparison.channel,
                comparison.unit,
                _units_out(comparison.unit, window.units_total),
                _money_out(window.actual_total),
                cheapest.label if cheapest else "",
                _money_out(window.option_costs[cheapest.key]) if cheapest else "",
                reference.label if reference else "",
                _money_out(window.reference_cost) or "",
                _money_out(window.savings) or "",
                _money_out(window.savings_percent) or "",
            ]
            row += [
                _money_out(costs_by_label[label]) if channel == comparison.channel and label in costs_by_label else ""
                for channel, label in option_labels
            ]
            rows.append(row)
    return rows
