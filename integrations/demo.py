"""The demo: an organization with sandbox integrations, an admin login, and six months of
believable message and call history.

``demo_seed(...)`` creates (or refreshes) the organization, its integrations and the login;
``seed_demo_history(organization=...)`` writes, per channel, traffic on the channel's older
integration for the first three months and on the current primary after a switch in the middle,
so the cost page has a story on first run: volume growing, the switch, the savings it brought.
Rows are generated with a fixed random seed and written with ``bulk_create``; running it again
adds nothing. Demo-only: nothing in production calls it.
"""

from __future__ import annotations

import datetime as dt
import random

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from integrations.models import (
    Call,
    Channel,
    Membership,
    Message,
    Organization,
    OrganizationIntegration,
)
from integrations.selectors.usage import month_starts, next_month
from integrations.services.costs.options import integration_price_model
from integrations.services.integrations import integration_create, integration_update
from providers.catalog import CATALOG

REFERENCE = "demo:history"
SEED = 20260701
MONTHS = 6
SWITCH_AFTER = 3  # months on the older provider before the switch

CATEGORY_MIX = (("marketing", 0.25), ("utility", 0.35), ("authentication", 0.10), ("service", 0.30))
# Messages per month, oldest first (the current month is scaled to the days gone by).
MESSAGE_VOLUME = (2400, 2650, 2900, 3050, 3240, 3400)
CALL_VOLUME = (110, 125, 140, 150, 165, 175)

# The sandbox integrations cost the same; for the story, the older one is priced like Twilio and
# the newer like Meta / Telnyx (only when the organization has not set prices of its own).
STORY_PRICES = {
    Channel.WHATSAPP: ("twilio_whatsapp", "meta_cloud"),
    Channel.VOIP: ("twilio_voice", "telnyx"),
}
# (failure rate, mean latency ms) before and after the switch.
BEHAVIOUR = ((0.025, 950), (0.008, 420))


DEMO_SLUG = "demo"
DEMO_INTEGRATIONS = (
    # (provider, display name, config)
    ("sandbox_whatsapp", "Sandbox WhatsApp (primary)", {"sender": "+14155550100", "label": "wa-primary"}),
    ("sandbox_whatsapp", "Sandbox WhatsApp (backup)", {"sender": "+14155550101", "label": "wa-backup"}),
    ("sandbox_voip", "Sandbox VoIP (primary)", {"sender": "+14155550102", "label": "voip-primary"}),
    ("sandbox_voip", "Sandbox VoIP (backup)", {"sender": "+14155550103", "label": "voip-backup"}),
)


def demo_seed(*, username: str, password: str) -> tuple[Organization, str]:
    """The demo organization with its sandbox integrations (the first of each channel becomes
    primary), an owner login with ``password``, and its history. Returns the organization and a
    line about the history."""
    with transaction.atomic():
        organization, _ = Organization.objects.get_or_create(
            slug=DEMO_SLUG, defaults={"name": "Demo Organization", "auto_failover": True}
        )
        user, _ = get_user_model().objects.get_or_create(username=username, defaults={"email": f"{username}@example.com"})
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        Membership.objects.get_or_create(user=user, organization=organization, defaults={"role": Membership.Role.OWNER})
        existing = set(organization.integrations.values_list("display_name", flat=True))
        for index, (provider_name, display_name, config) in enumerate(DEMO_INTEGRATIONS):
            if display_name in existing:
                continue
            integration_create(
                organization=organization,
                provider_name=provider_name,
                display_name=display_name,
                config=config,
                credentials={"api_key": f"demo-key-{index}-{organization.pk.hex[:12]}"},
                status=OrganizationIntegration.Status.ACTIVE,
                actor="system:seed_demo",
            )
    return organization, seed_demo_history(organization=organization)


def _story_pricing(catalog_name: str) -> dict:
    model = CATALOG[catalog_name]
    pricing = {"unit_price": str(model.unit_price), "billing_increment_seconds": model.billing_increment_seconds}
    if model.category_prices:
        pricing["category_prices"] = {k: str(v) for k, v in model.category_prices.items()}
    return pricing


def _pair(organization: Organization, channel: str) -> tuple[OrganizationIntegration, OrganizationIntegration] | None:
    """(before the switch, after the switch): the channel's primary is the "after"."""
    rows = list(OrganizationIntegration.objects.for_org(organization).for_channel(channel).in_route_order())
    if not rows:
        return None
    after = rows[0]
    before = rows[1] if len(rows) > 1 else rows[0]
    return before, after


def _timestamps(rng: random.Random, start: dt.date, end: dt.datetime, count: int) -> list[dt.datetime]:
    first = timezone.make_aware(dt.datetime(start.year, start.month, start.day))
    span = max((end - first).total_seconds(), 3600)
    return sorted(first + dt.timedelta(seconds=rng.uniform(0, span)) for _ in range(count))


def seed_demo_history(*, organization: Organization, now: dt.datetime | None = None, seed: int = SEED) -> str:
    """Create the history once; returns a line saying what was written (or that it was there)."""
    if Message.objects.for_org(organization).filter(reference=REFERENCE).exists():
        return "Demo history already present."
    now = now or timezone.now()
    rng = random.Random(seed)
    starts = month_starts(months=MONTHS, now=now)
    messages: list[Message] = []
    calls: list[Call] = []
    with transaction.atomic():
        for channel, (old_price, new_price) in STORY_PRICES.items():
            pair = _pair(organization, channel)
            if pair is None:
                continue
            before, after = pair
            if before.pk != after.pk:
                for integration, catalog_name in ((before, old_price), (after, new_price)):
                    if not (integration.config or {}).get("pricing"):
                        integration_update(
                            integration=integration, actor="system:seed_demo",
                            config={**(integration.config or {}), "pricing": _story_pricing(catalog_name)},
                            reason="Demo: price the sandbox like a real provider.",
                        )
                        integration.refresh_from_db()
            for index, start in enumerate(starts):
                integration = before if index < SWITCH_AFTER else after
                failure_rate, latency = BEHAVIOUR[0 if index < SWITCH_AFTER else 1]
                model = integration_price_model(integration)
                month_end = min(now, timezone.make_aware(dt.datetime.combine(next_month(start), dt.time())))
                month_seconds = (timezone.make_aware(dt.datetime.combine(next_month(start), dt.time()))
                                 - timezone.make_aware(dt.datetime.combine(start, dt.time()))).total_seconds()
                elapsed = (month_end - timezone.make_aware(dt.datetime.combine(start, dt.time()))).total_seconds()
                share = min(max(elapsed / month_seconds, 0), 1)
                if channel == Channel.WHATSAPP:
                    count = round(MESSAGE_VOLUME[index] * share * rng.uniform(0.97, 1.03))
                    for when in _timestamps(rng, start, month_end, count):
                        messages.append(_message(rng, organization, integration, model, when, failure_rate, latency))
                else:
                    count = round(CALL_VOLUME[index] * share * rng.uniform(0.95, 1.05))
                    for when in _timestamps(rng, start, month_end, count):
                        calls.append(_call(rng, organization, integration, model, when, failure_rate, latency))
        Message.objects.bulk_create(messages, batch_size=2000)
        Call.objects.bulk_create(calls, batch_size=2000)
    return f"Demo history: {len(messages)} messages and {len(calls)} calls over {MONTHS} months."


def _category(rng: random.Random) -> str:
    roll, total = rng.random(), 0.0
    for category, share in CATEGORY_MIX:
        total += share
        if roll < total:
            return category
    return CATEGORY_MIX[-1][0]


def _message(rng, organization, integration, model, when, failure_rate, latency) -> Message:
    category = _category(rng)
    failed = rng.random() < failure_rate
    status = Message.Status.FAILED if failed else rng.choices(
        (Message.Status.SENT, Message.Status.DELIVERED, Message.Status.READ), weights=(5, 60, 35)
    )[0]
    return Message(
        organization=organization,
        integration=integration,
        provider_name=integration.provider_name,
        channel=Channel.WHATSAPP,
        to=f"+1415555{rng.randint(0, 9999):04d}",
        body="Demo message",
        category=category,
        reference=REFERENCE,
        status=status,
        provider_message_id=f"demo-{rng.getrandbits(48):012x}",
        cost=None if failed else model.price_for(category),
        currency="" if failed else model.currency,
        cost_source="" if failed else "catalog",
        latency_ms=max(40, int(rng.gauss(latency, latency / 4))),
        error="Simulated provider failure" if failed else "",
        created_at=when,
        sent_at=None if failed else when + dt.timedelta(milliseconds=latency),
        failed_at=when if failed else None,
    )


def _call(rng, organization, integration, model, when, failure_rate, latency) -> Call:
    roll = rng.random()
    if roll < failure_rate:
        status, duration = Call.Status.FAILED, None
    elif roll < failure_rate + 0.10:
        status, duration = Call.Status.NO_ANSWER, None
    elif roll < failure_rate + 0.15:
        status, duration = Call.Status.BUSY, None
    else:
        status, duration = Call.Status.COMPLETED, max(3, int(rng.lognormvariate(4.3, 0.7)))
    cost = model.call_cost(duration) if duration else None
    return Call(
        organization=organization,
        integration=integration,
        provider_name=integration.provider_name,
        to=f"+1415556{rng.randint(0, 9999):04d}",
        reference=REFERENCE,
        status=status,
        provider_call_id=f"demo-{rng.getrandbits(48):012x}",
        duration_seconds=duration,
        cost=cost,
        currency=model.currency if cost is not None else "",
        cost_source="catalog" if cost is not None else "",
        latency_ms=max(40, int(rng.gauss(latency, latency / 4))),
        created_at=when,
        started_at=when,
        ended_at=when + dt.timedelta(seconds=duration) if duration else None,
    )


__all__ = ["REFERENCE", "seed_demo_history"]
