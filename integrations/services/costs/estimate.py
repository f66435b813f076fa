"""The calculator: what a monthly volume would cost on every option of a channel."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from integrations.models import Channel, Organization
from integrations.services.costs.options import Option, channel_options
from providers.pricing import (
    billing_factor,
    break_even,
    normalise_mix,
    to_decimal,
)


@dataclass
class EstimateLine:
    option: Option
    cost: Decimal
    break_even_with_cheapest: list = field(default_factory=list)
    # Against the channel's primary: what an admin weighs when thinking of switching. Empty when
    # the two costs never cross (proportional prices without fees or tiers, as in the catalog).
    break_even_with_primary: list = field(default_factory=list)


def cost_estimate(
    *,
    organization: Organization,
    channel: str,
    monthly_volume: Decimal | int,
    mix: Mapping[str, Any] | None = None,
    average_call_seconds: int | None = None,
) -> list[EstimateLine]:
    """The monthly cost of ``monthly_volume`` units (messages, or minutes of talk time) on every
    option of ``channel``, cheapest first, each with its break-even volumes against the cheapest
    and against the channel's primary."""
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
        primary = next((line for line in lines if line.option.is_primary), None)
        for line in lines:
            if primary is not None and line is not primary:
                line.break_even_with_primary = break_even(
                    primary.option.model, line.option.model, mix=shares or None, average_call_seconds=average_call_seconds
                )
    return lines


