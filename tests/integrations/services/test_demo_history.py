"""The demo history: six months, two providers per channel, a switch in the middle, once."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from integrations.demo import REFERENCE, SWITCH_AFTER, seed_demo_history
from integrations.models import Call, Message
from integrations.services.costs.comparison import cost_comparison
from tests.factories import make_integration

NOW = timezone.make_aware(dt.datetime(2026, 6, 20, 12, 0))


def _demo_org(organization):
    primary_wa = make_integration(organization=organization, provider_name="sandbox_whatsapp", display_name="WA 1")
    backup_wa = make_integration(organization=organization, provider_name="sandbox_whatsapp", display_name="WA 2")
    primary_voip = make_integration(organization=organization, provider_name="sandbox_voip", display_name="V 1")
    backup_voip = make_integration(organization=organization, provider_name="sandbox_voip", display_name="V 2")
    return primary_wa, backup_wa, primary_voip, backup_voip


def test_history_tells_the_story_and_is_written_once(organization, other_organization):
    primary_wa, backup_wa, primary_voip, backup_voip = _demo_org(organization)
    line = seed_demo_history(organization=organization, now=NOW)
    messages = Message.objects.for_org(organization).filter(reference=REFERENCE)
    calls = Call.objects.for_org(organization).filter(reference=REFERENCE)
    assert line == f"Demo history: {messages.count()} messages and {calls.count()} calls over 6 months."
    assert messages.count() > 12_000 and calls.count() > 500

    comparison = cost_comparison(organization=organization, channel="whatsapp", months=6, now=NOW)
    carriers = [set(w.usage) for w in comparison.months]
    assert carriers[:SWITCH_AFTER] == [{str(backup_wa.pk)}] * SWITCH_AFTER
    assert carriers[SWITCH_AFTER:] == [{str(primary_wa.pk)}] * (6 - SWITCH_AFTER)
    # After the switch the organization pays less than the dearest provider would have cost.
    assert comparison.total.savings > 0
    assert all(w.savings > 0 for w in comparison.months[SWITCH_AFTER:])
    voip = cost_comparison(organization=organization, channel="voip", months=6, now=NOW)
    assert set(voip.months[0].usage) == {str(backup_voip.pk)} and set(voip.months[-1].usage) == {str(primary_voip.pk)}
    assert voip.total.savings > 0

    assert seed_demo_history(organization=organization, now=NOW) == "Demo history already present."
    assert Message.objects.for_org(organization).count() == messages.count()
    assert not Message.objects.for_org(other_organization).exists()


def test_history_is_deterministic(organization, other_organization):
    _demo_org(organization)
    _demo_org(other_organization)
    seed_demo_history(organization=organization, now=NOW)
    seed_demo_history(organization=other_organization, now=NOW)

    def shape(org):
        return list(Message.objects.for_org(org).order_by("created_at").values_list("category", "status", "created_at"))

    assert shape(organization) == shape(other_organization)
