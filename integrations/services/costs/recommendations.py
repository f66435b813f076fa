"""What to do about a channel's costs: rules computed from a comparison's own figures and the
configured bars (``options.rules``)."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_currency, format_decimal
from django.utils.translation import get_language, ngettext, to_locale
from django.utils.translation import gettext as _

from integrations.models import Channel
from integrations.services.costs.figures import Comparison, Recommendation
from providers.pricing import UNIT_MINUTE, break_even, display_money, normalise_mix

HUNDRED = Decimal("100")



def _locale() -> str:
    return to_locale(get_language() or "en")


def money_text(amount: Decimal | None) -> str:
    """A dollar amount in the reader's language: ``$1,234.50`` / ``US$ 1.234,50``."""
    return _("n/a") if amount is None else format_currency(display_money(amount), "USD", locale=_locale())


def _percent(fraction: Decimal | None) -> str:
    if fraction is None:
        return _("n/a")
    return f"{format_decimal(display_money(fraction * HUNDRED), format='#,##0.00', locale=_locale())} %"


def _units_text(comparison: Comparison, amount: Decimal) -> str:
    if comparison.unit == UNIT_MINUTE:
        return _("%(count)s minutes") % {"count": format_decimal(display_money(amount), format="#,##0.00", locale=_locale())}
    count = format_decimal(amount, format="#,##0", locale=_locale())
    return ngettext("%(count)s message", "%(count)s messages", round(amount)) % {"count": count}


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
        cost, _tie, best, usage = min(reliable, key=lambda item: (item[0], item[1]))
        if primary is not None and best.key != primary.key:
            primary_cost = total.option_costs[primary.key]
            found.append(
                Recommendation(
                    kind="cheapest_reliable",
                    severity="suggestion",
                    title=_("Save %(amount)s by routing through %(name)s")
                    % {"amount": money_text(primary_cost - cost), "name": best.label},
                    reasoning=_(
                        "For this period's usage, %(name)s would have cost %(cost)s against %(primary_cost)s on the "
                        "primary %(primary)s, and it delivered %(rate)s of %(attempts)s attempts (bar: %(bar)s, "
                        "at least %(min_attempts)s attempts)."
                    )
                    % {"name": best.label, "cost": money_text(cost), "primary_cost": money_text(primary_cost),
                       "primary": primary.label, "rate": _percent(usage.success_rate), "attempts": usage.attempts,
                       "bar": _percent(bar), "min_attempts": min_attempts},
                    figures={"option": best.key, "cost": cost, "primary_cost": primary_cost,
                             "success_rate": usage.success_rate, "attempts": usage.attempts},
                )
            )
        else:
            found.append(
                Recommendation(
                    kind="cheapest_reliable",
                    severity="info",
                    title=_("%(name)s is the cheapest provider that meets the reliability bar") % {"name": best.label},
                    reasoning=_(
                        "%(name)s would cost %(cost)s for this period's usage and delivered %(rate)s of "
                        "%(attempts)s attempts (bar: %(bar)s)."
                    )
                    % {"name": best.label, "cost": money_text(cost), "rate": _percent(usage.success_rate),
                       "attempts": usage.attempts, "bar": _percent(bar)},
                    figures={"option": best.key, "cost": cost, "success_rate": usage.success_rate},
                )
            )
    elif has_usage and configured:
        found.append(
            Recommendation(
                kind="cheapest_reliable",
                severity="info",
                title=_("No configured provider has shown the required reliability yet"),
                reasoning=_(
                    "None of the configured providers delivered at least %(bar)s of at least %(min_attempts)s "
                    "attempts in this period."
                )
                % {"bar": _percent(bar), "min_attempts": min_attempts},
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
                above = average_units > point.volume
                found.append(
                    Recommendation(
                        kind="break_even",
                        severity="info",
                        title=_("%(cheaper)s is cheaper than %(dearer)s above %(volume)s a month")
                        % {"cheaper": cheaper.label, "dearer": dearer.label,
                           "volume": _units_text(comparison, point.volume)},
                        reasoning=_break_even_reasoning(
                            cost=money_text(point.cost), volume=_units_text(comparison, point.volume), mix=bool(mix),
                            seconds=seconds, average=_units_text(comparison, average_units), above=above,
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
                    title=_("%(name)s is unofficial and carried %(share)s of the traffic")
                    % {"name": option.label, "share": _percent(share)},
                    reasoning=_(
                        "%(name)s (%(provider)s) is not an official API: the number can be banned without notice. "
                        "It carried %(units)s of %(total)s this period (warning above %(bar)s); keep an official "
                        "provider as fallback, or move customer-facing traffic to one."
                    )
                    % {"name": option.label, "provider": option.provider_name,
                       "units": _units_text(comparison, usage.units), "total": _units_text(comparison, channel_units),
                       "bar": _percent(unofficial_bar)},
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
                    title=_("The primary %(name)s is not the cheapest healthy option") % {"name": primary.label},
                    reasoning=_(
                        "%(name)s is active and healthy and would have cost %(cost)s for this period's usage, "
                        "against %(primary_cost)s on %(primary)s."
                    )
                    % {"name": cheapest.label, "cost": money_text(total.option_costs[cheapest.key]),
                       "primary_cost": money_text(total.option_costs[primary.key]), "primary": primary.label},
                    figures={"option": cheapest.key, "cost": total.option_costs[cheapest.key],
                             "primary_cost": total.option_costs[primary.key]},
                )
            )
    return found


def _break_even_reasoning(*, cost: str, volume: str, mix: bool, seconds: int | None, average: str, above: bool) -> str:
    """"Both cost $x at n a month[ with this period's category mix][ and calls of s s on average].
    Your average month (m) is above/below it." — whole sentences, so each language orders them."""
    if mix:
        both = _("Both cost %(cost)s at %(volume)s a month with this period's category mix.")
    elif seconds:
        both = _("Both cost %(cost)s at %(volume)s a month and calls of %(seconds)s s on average.")
    else:
        both = _("Both cost %(cost)s at %(volume)s a month.")
    yours = (
        _("Your average month (%(average)s) is above it.") if above else _("Your average month (%(average)s) is below it.")
    )
    return f"{both % {'cost': cost, 'volume': volume, 'seconds': seconds}} {yours % {'average': average}}"
