"""Setting a channel policy (validated, audited, versioned, seen at once) and delivering under it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from audit.models import AuditEvent
from integrations.errors import NotFound
from integrations.models import ChannelPolicy, Message, OrganizationIntegration
from integrations.selectors.policies import carried_shares, policy_get
from integrations.services.delivery import dispatch, intake
from integrations.services.policies.channel_policy import POLICY_CHANGED, set_policy
from integrations.services.routing import version_key
from tests.factories import make_integration, make_organization

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pair(organization):
    primary = make_integration(organization=organization, display_name="Official", config={"label": "official"}, priority=10)
    bridge = make_integration(organization=organization, display_name="Bridge", config={"label": "bridge"}, priority=5)
    return primary, bridge


def split(organization, weights, **kwargs):
    return set_policy(organization=organization, channel="whatsapp", mode="split",
                      weights={str(k.pk): v for k, v in weights.items()}, actor="system:test", **kwargs)


def deliver(organization, to, *, tags=()):
    message, _ = intake.send_message(organization=organization, channel="whatsapp", to=to, body="hi",
                                     tags=list(tags), actor="system:test")
    dispatch.deliver_message(message_id=message.pk)
    message.refresh_from_db()
    return message


def test_a_split_is_validated_against_the_channels_active_integrations(organization, pair, other_organization):
    primary, bridge = pair
    pending = make_integration(organization=organization, display_name="Pending",
                               status=OrganizationIntegration.Status.PENDING)
    foreign = make_integration(organization=other_organization, display_name="Foreign")
    voip = make_integration(organization=organization, provider_name="sandbox_voip", display_name="Voice")
    for weights, message in [
        ({primary: 60, bridge: 30}, "add up to 100 (they add up to 90)"),
        ({primary: 50, pending: 50}, "not an active integration"),
        ({}, "needs weights"),
    ]:
        with pytest.raises(ValidationError) as caught:
            split(organization, weights)
        assert message in str(caught.value)
    for weights in ({primary: 50, foreign: 50}, {primary: 50, voip: 50}):
        with pytest.raises(NotFound):
            split(organization, weights)
    with pytest.raises(ValidationError, match="whole percent"):
        set_policy(organization=organization, channel="whatsapp", mode="split",
                   weights={str(primary.pk): 100.0}, actor="system:test")
    with pytest.raises(ValidationError, match="Mode is one of"):
        set_policy(organization=organization, channel="whatsapp", mode="random", actor="system:test")
    assert not ChannelPolicy.objects.exists() and not AuditEvent.objects.filter(action=POLICY_CHANGED).exists()


def test_every_change_is_audited_versioned_and_bumps_the_route_version(organization, pair, django_capture_on_commit_callbacks):
    primary, bridge = pair
    cache.set(version_key(organization.pk, "whatsapp"), "v-before", timeout=None)
    with django_capture_on_commit_callbacks(execute=True):
        first = split(organization, {primary: 80, bridge: 20}, reason="try the bridge")
    assert cache.get(version_key(organization.pk, "whatsapp")) != "v-before"
    second = set_policy(organization=organization, channel="whatsapp", mode="primary", actor="system:test",
                        rules=[{"tag": "internal", "integration_id": str(bridge.pk)}], reason="back")
    assert (first.version, second.version) == (1, 2) and second.weights == {}
    events = list(AuditEvent.objects.filter(action=POLICY_CHANGED).order_by("created_at"))
    assert [e.reason for e in events] == ["try the bridge", "back"]
    assert events[0].before is None and events[0].after["weights"] == {str(primary.pk): 80, str(bridge.pk): 20}
    assert events[1].before["mode"] == "split" and events[1].after["rules"] == [{"tag": "internal", "integration_id": str(bridge.pk)}]
    assert events[1].actor == "system:test" and events[1].organization_id == organization.pk


def test_a_split_shares_traffic_by_weight_and_keeps_each_contact_on_its_sender(organization, pair):
    primary, bridge = pair
    split(organization, {primary: 50, bridge: 50})
    sent = [deliver(organization, f"+5511900{i:06d}") for i in range(300)]
    carried = {p: sum(1 for m in sent if m.integration_id == p.pk) for p in pair}
    assert all(m.status == Message.Status.SENT for m in sent)
    # 300 draws at 50 %: one standard deviation is 8.7 messages; 45 is more than 5 of them.
    assert abs(carried[primary] - 150) <= 45 and carried[primary] + carried[bridge] == 300
    again = [deliver(organization, f"+5511900{i:06d}") for i in range(20)]
    assert [m.integration_id for m in again] == [m.integration_id for m in sent[:20]]
    shares = carried_shares(organization=organization, channel="whatsapp", policy=policy_get(organization=organization, channel="whatsapp"))
    by_id = {s.integration_id: s for s in shares.integrations}
    assert shares.total == 320 and by_id[str(primary.pk)].weight == 50
    assert by_id[str(primary.pk)].sent + by_id[str(bridge.pk)].sent == 320


def test_a_rule_by_tag_wins_over_the_weights(organization, pair):
    primary, bridge = pair
    set_policy(organization=organization, channel="whatsapp", mode="split", weights={str(primary.pk): 100},
               rules=[{"tag": "internal", "integration_id": str(bridge.pk)}], actor="system:test")
    assert deliver(organization, "+5511911110000", tags=["internal"]).integration_id == bridge.pk
    assert deliver(organization, "+5511911110000", tags=["campaign"]).integration_id == primary.pk


def test_a_chosen_integration_with_an_open_breaker_falls_back_by_priority(organization, pair):
    primary, bridge = pair
    split(organization, {bridge: 100})
    assert deliver(organization, "+5511922220000").integration_id == bridge.pk
    OrganizationIntegration.objects.filter(pk=bridge.pk).update(breaker_open_until=timezone.now() + timedelta(minutes=5))
    message = deliver(organization, "+5511922220000")
    assert message.integration_id == primary.pk
    assert [a["outcome"] for a in message.attempts] == ["skipped_breaker", "sent"]


def test_a_policy_change_is_seen_by_the_next_delivery(organization, pair):
    primary, bridge = pair
    split(organization, {bridge: 100})
    assert deliver(organization, "+5511933330000").integration_id == bridge.pk
    split(organization, {primary: 100})
    assert deliver(organization, "+5511933330000").integration_id == primary.pk


def test_an_inactive_chosen_integration_leaves_the_plain_route(organization, pair):
    primary, bridge = pair
    split(organization, {bridge: 100})
    OrganizationIntegration.objects.filter(pk=bridge.pk).update(status=OrganizationIntegration.Status.INACTIVE)
    from integrations.services.routing import invalidate_route
    invalidate_route(organization_id=organization.pk, channel="whatsapp")
    assert deliver(organization, "+5511944440000").integration_id == primary.pk


def test_tags_are_validated_at_intake(organization, pair):
    with pytest.raises(ValidationError, match="tag"):
        intake.send_message(organization=organization, channel="whatsapp", to="+5511955550000", body="x",
                            tags=["has space"], actor="system:test")
    message, _ = intake.send_message(organization=organization, channel="whatsapp", to="+5511955550000", body="x",
                                     tags=["vip", "vip", "internal"], actor="system:test")
    assert message.tags == ["vip", "internal"]


def test_commands_set_and_list_policies(organization, pair, capsys):
    primary, bridge = pair
    call_command("set_policy", "--org", organization.slug, "--channel", "whatsapp", "--mode", "split",
                 "--weight", "Official=70", "--weight", f"{bridge.pk}=30", "--rule", "internal=Bridge", "--reason", "cli")
    policy = policy_get(organization=organization, channel="whatsapp")
    assert policy.weights == {str(primary.pk): 70, str(bridge.pk): 30}
    assert policy.rules == [{"tag": "internal", "integration_id": str(bridge.pk)}]
    assert AuditEvent.objects.get(action=POLICY_CHANGED).actor == "system:cli"
    call_command("list_policies", "--org", organization.slug)
    out = capsys.readouterr().out
    assert "acme/whatsapp: split (version 1)" in out and "Official: weight 70%" in out
    with pytest.raises(CommandError, match="add up to 100"):
        call_command("set_policy", "--org", organization.slug, "--channel", "whatsapp", "--mode", "split",
                     "--weight", "Official=70")
    with pytest.raises(CommandError, match="no whatsapp integration"):
        call_command("set_policy", "--org", organization.slug, "--channel", "whatsapp", "--mode", "split",
                     "--weight", "Nope=100")
    other = make_organization()
    call_command("list_policies", "--org", other.slug)
    assert "No routing policies" in capsys.readouterr().out


DOWN = {"failure_rate": 1, "failure_mode": "unavailable"}  # sandbox_503
REFUSED_RECIPIENT = {"failure_rate": 1, "failure_mode": "rejected_recipient"}  # sandbox_recipient


def with_actions(organization, actions):
    return set_policy(organization=organization, channel="whatsapp", mode="primary", failure_actions=actions,
                      actor="system:test")


def test_the_failure_policy_overrides_delivery_per_error_code(organization, pair, settings):
    settings.DELIVERY_MAX_RETRIES = 2
    primary, bridge = pair
    OrganizationIntegration.objects.filter(pk=primary.pk).update(config={"label": "official", **DOWN})
    from integrations.services.routing import invalidate_route
    invalidate_route(organization_id=organization.pk, channel="whatsapp")
    # Default: an outage fails over to the next integration.
    assert deliver(organization, "+5511966660001").integration_id == bridge.pk
    # "retry": no fail-over; the message waits for a later round on the same route.
    with_actions(organization, {"sandbox_503": "retry"})
    message, _ = intake.send_message(organization=organization, channel="whatsapp", to="+5511966660002", body="x", actor="t")
    with pytest.raises(dispatch.DeliveryDeferred):
        dispatch.deliver_message(message_id=message.pk)
    message.refresh_from_db()
    assert message.status == Message.Status.QUEUED and [a["outcome"] for a in message.attempts] == ["unavailable"]
    # "stop": the message fails at once, nothing else is tried.
    with_actions(organization, {"sandbox_503": "stop"})
    stopped = deliver(organization, "+5511966660003")
    assert stopped.status == Message.Status.FAILED and len(stopped.attempts) == 1


def test_a_rejection_can_be_failed_over_by_policy(organization, pair):
    primary, bridge = pair
    OrganizationIntegration.objects.filter(pk=primary.pk).update(config={"label": "official", **REFUSED_RECIPIENT})
    from integrations.services.routing import invalidate_route
    invalidate_route(organization_id=organization.pk, channel="whatsapp")
    assert deliver(organization, "+5511977770001").status == Message.Status.FAILED  # default: would fail anywhere
    with_actions(organization, {"sandbox_recipient": "fail_over"})
    assert deliver(organization, "+5511977770002").integration_id == bridge.pk
    with pytest.raises(ValidationError, match="maps to one of"):
        with_actions(organization, {"sandbox_recipient": "panic"})
