"""Shared fixtures of the analytics tests: test provider classes with known prices, and rows
written straight into the tables with the dates the tests need."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from integrations.models import Call, Message
from providers.pricing import UNIT_MINUTE, PriceModel
from providers.registry import get_registry
from providers.sandbox import SandboxVoip, SandboxWhatsApp

D = Decimal
# The analytics "now": mid-June 2026; the last three months are April, May, June.
NOW = timezone.make_aware(dt.datetime(2026, 6, 15, 12, 0))


def at(month: int, day: int = 10, year: int = 2026) -> dt.datetime:
    return timezone.make_aware(dt.datetime(year, month, day, 9, 30))


class OfficialWhatsApp(SandboxWhatsApp):
    name = "test_wa_official"
    display_name = "Test official WhatsApp"
    official = True
    pricing = PriceModel(
        unit_price=D("0.01"), category_prices={"marketing": D("0.05")}, monthly_fee=D("5"), channel="whatsapp"
    )


class UnofficialWhatsApp(SandboxWhatsApp):
    name = "test_wa_unofficial"
    display_name = "Test unofficial WhatsApp"
    official = False
    pricing = PriceModel(unit_price=D("0.002"), channel="whatsapp")


class SixSecondVoip(SandboxVoip):
    name = "test_voip_six"
    display_name = "Test six-second VoIP"
    pricing = PriceModel(unit=UNIT_MINUTE, unit_price=D("0.01"), billing_increment_seconds=6,
                         monthly_fee=D("2"), channel="voip")


class MinuteVoip(SandboxVoip):
    name = "test_voip_minute"
    display_name = "Test per-minute VoIP"
    pricing = PriceModel(unit=UNIT_MINUTE, unit_price=D("0.013"), billing_increment_seconds=60, channel="voip")


TEST_PROVIDERS = (OfficialWhatsApp, UnofficialWhatsApp, SixSecondVoip, MinuteVoip)


def register_test_providers() -> None:
    registry = get_registry()
    for provider_class in TEST_PROVIDERS:
        registry.register(provider_class, replace=True)


def message(organization, integration, *, when, status="sent", category="", cost=None, cost_source="",
            latency_ms=None, direction="out", channel="whatsapp") -> Message:
    return Message(
        organization=organization,
        integration=integration,
        provider_name=integration.provider_name if integration else "",
        channel=channel,
        direction=direction,
        to="+15005550006",
        body="hello",
        category=category,
        status=status,
        cost=cost,
        cost_source=cost_source,
        currency="USD" if cost is not None else "",
        latency_ms=latency_ms,
        created_at=when,
    )


def call(organization, integration, *, when, status="completed", duration=None, cost=None, cost_source="",
         latency_ms=None) -> Call:
    return Call(
        organization=organization,
        integration=integration,
        provider_name=integration.provider_name if integration else "",
        to="+15005550006",
        status=status,
        duration_seconds=duration,
        cost=cost,
        cost_source=cost_source,
        latency_ms=latency_ms,
        created_at=when,
    )


def this_month(day_offset_hours: int = 0) -> dt.datetime:
    """A moment inside the current calendar month (its first day, plus some hours)."""
    start = timezone.localtime(timezone.now()).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return start + dt.timedelta(hours=1 + day_offset_hours)


def current_month_traffic(organization, primary, fallback, *, marketing: int, uncategorised: int) -> list[Message]:
    """Billable rows this month: ``marketing`` on ``primary`` at its stored catalog price 0.05,
    ``uncategorised`` on ``fallback`` with no stored price, and one failure on each."""
    rows = [message(organization, primary, when=this_month(i % 5), category="marketing", cost=D("0.05"),
                    cost_source="catalog") for i in range(marketing)]
    rows += [message(organization, fallback, when=this_month(i % 5)) for i in range(uncategorised)]
    rows += [message(organization, primary, when=this_month(), status="failed"),
             message(organization, fallback, when=this_month(), status="failed")]
    return Message.objects.bulk_create(rows)
