"""Cost analytics: what each provider cost an organization, and what the same usage would have
cost elsewhere.

Every figure is computed from the organization's own rows (``integrations.selectors.usage``) and
the providers' price models (``providers.pricing``), in ``Decimal``, and rounded once, at display
(``providers.pricing.display_money``). ``docs/COSTS.md`` gives the definitions a finance person
needs to recompute any figure with a spreadsheet. Rendering (JSON, CSV) is
``integrations.reports.costs``; a price's label is ``options.price_label``.

Entry points: :func:`cost_comparison` (the monthly comparison, savings and recommendations of a
channel), :func:`month_summary` (the dashboard's cost strip), and in sibling modules
``estimate.cost_estimate`` (the calculator) and ``recommendations.recommendations_for``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from integrations.models import Channel, Organization
from integrations.selectors.usage import UsageGroup, month_starts, next_month, usage_groups
from integrations.services.costs.figures import Comparison, IntegrationUsage, Window
from integrations.services.costs.options import channel_options, price_model_for, rules
from integrations.services.costs.recommendations import money_text, recommendations_for
from providers.pricing import (
    ZERO,
    PriceModel,
    display_money,
)

HUNDRED = Decimal("100")

# ----- the comparison


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
        label = option.label if option else _("%(name)s (deleted integration)") % {"name": group.provider_name}
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




def last_month_costs(
    *, organization: Organization, channel: str, models: Mapping[str, PriceModel], now: dt.datetime | None = None
) -> dict[str, Any]:
    """Last calendar month's billable usage of ``channel`` (messages, or talk minutes of calls)
    and what it would have cost on each of ``models`` (key → price model), computed as the cost
    page computes an alternative's cost: the wizard's "cost comparison inline"."""
    start, this_month = month_starts(months=2, now=now)
    volumes: dict[Any, int] = {}
    for group in usage_groups(organization=organization, channel=channel, start=start, end=this_month):
        for volume_key, count in group.volumes.items():
            volumes[volume_key] = volumes.get(volume_key, 0) + count
    if channel == Channel.VOIP:
        units = sum((Decimal(int(seconds)) * count for seconds, count in volumes.items()), ZERO) / Decimal(60)
    else:
        units = Decimal(sum(volumes.values()))
    return {
        "month": start,
        "units": units,
        "costs": {key: _cost_on(model, channel, volumes) for key, model in models.items()},
    }


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
    # One definition of savings everywhere (DEFINITIONS["savings"], shown once on the cost page):
    # the reference (the single configured provider that would have cost the most) minus actual.
    summary["headline"] = (
        _("This month: saved %(amount)s (%(percent)s %%) against sending everything through the single "
          "configured provider that would have cost the most.")
        % {"amount": money_text(savings), "percent": display_money(summary["savings_percent"])}
        if summary["savings_percent"] is not None
        else _("This month: no savings figure yet (no billable traffic, or nothing to compare with).")
    )
    return summary


