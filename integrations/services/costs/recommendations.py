"""What to do about a channel's costs: rules computed from a comparison's own figures and the
configured bars (``options.rules``)."""

from __future__ import annotations

from decimal import Decimal

from integrations.models import Channel
from integrations.services.costs.figures import Comparison, Recommendation
from providers.pricing import UNIT_MINUTE, break_even, display_money, normalise_mix

HUNDRED = Decimal("100")



def money_text(amount: Decimal | None) -> str:
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
                    title=f"Save {money_text(primary_cost - cost)} by routing through {best.label}",
                    reasoning=(
                        f"For this period's usage, {best.label} would have cost {money_text(cost)} against "
                        f"{money_text(primary_cost)} on the primary {primary.label}, and it delivered "
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
                        f"{best.label} would cost {money_text(cost)} for this period's usage and delivered "
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
                            f"Both cost {money_text(point.cost)} at {_units_text(comparison, point.volume)} a month"
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
                        f"{money_text(total.option_costs[cheapest.key])} for this period's usage, against "
                        f"{money_text(total.option_costs[primary.key])} on {primary.label}."
                    ),
                    figures={"option": cheapest.key, "cost": total.option_costs[cheapest.key],
                             "primary_cost": total.option_costs[primary.key]},
                )
            )
    return found


