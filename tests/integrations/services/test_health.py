"""Health checks, automatic failover and fail-back, notifications, and ``check_providers``."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from audit.models import AuditEvent
from integrations.models import OrganizationIntegration
from integrations.services import health, notifications
from tests.factories import SECRET_API_KEY, make_integration, make_membership, make_user
from tests.providers.loopback import LoopbackServer, Reply


@pytest.fixture
def failover_settings(settings):
    settings.HEALTH_FAILOVER_THRESHOLD = 3
    settings.FAILOVER_COOLDOWN_SECONDS = 600
    return settings


def set_health(integration, status: str) -> None:
    config = {**integration.config, "health": status}
    OrganizationIntegration.objects.filter(pk=integration.pk).update(config=config)
    integration.config = config


def primary_of(organization) -> OrganizationIntegration:
    return OrganizationIntegration.objects.for_org(organization).get(channel="whatsapp", is_primary=True)


@pytest.fixture
def channel(organization, failover_settings):
    organization.auto_failover = True
    organization.save()
    make_membership(user=make_user(username="owner"), organization=organization, role="owner")
    primary = make_integration(organization=organization, display_name="Primary")
    degraded = make_integration(organization=organization, display_name="Degraded", config={"health": "degraded"})
    healthy = make_integration(organization=organization, display_name="Healthy")  # lower priority, healthier
    return primary, degraded, healthy


@pytest.mark.django_db
def test_auto_failover_after_k_failed_checks_to_the_healthiest_fallback_audited_and_notified(
    organization, channel, django_capture_on_commit_callbacks
):
    primary, degraded, healthy = channel
    set_health(primary, "down")

    with django_capture_on_commit_callbacks(execute=True):
        for check in (1, 2):
            health.run_health_checks(organization=organization)
            assert primary_of(organization).pk == primary.pk, f"switched after only {check} checks"
        rows = health.run_health_checks(organization=organization)

    assert primary_of(organization).pk == healthy.pk  # healthy beats degraded, even at lower priority
    (event,) = AuditEvent.objects.for_org(organization).filter(action="provider.failover")
    assert event.actor == "system:health"
    assert event.before["primary"]["id"] == str(primary.pk) and event.after["primary"]["id"] == str(healthy.pk)
    assert "down for 3 consecutive health checks" in event.reason
    assert [r.action for r in rows if r.is_primary] == ["failed over to Healthy"]
    # Health went down once (one change audited, one "down" notification), then a failover.
    assert AuditEvent.objects.for_org(organization).filter(action="integration.health_changed", target_id=str(primary.pk)).count() == 1
    subjects = [m.subject for m in mail.outbox]
    assert any("Primary (sandbox_whatsapp) is down" in s for s in subjects)
    assert any("Automatic failover" in s for s in subjects)
    assert all(m.to == ["owner@example.com"] for m in mail.outbox)
    assert AuditEvent.objects.for_org(organization).filter(action="notification.email").count() == len(mail.outbox)


@pytest.mark.django_db
def test_an_open_breaker_on_the_primary_triggers_failover_at_once(organization, channel):
    primary, degraded, healthy = channel
    OrganizationIntegration.objects.filter(pk=primary.pk).update(
        consecutive_failures=5, breaker_open_until=timezone.now() + timedelta(seconds=30)
    )
    health.run_health_checks(organization=organization)
    assert primary_of(organization).pk == healthy.pk
    assert "circuit breaker open" in AuditEvent.objects.for_org(organization).get(action="provider.failover").reason


@pytest.mark.django_db
def test_no_flapping_within_the_cooldown(organization, channel, failover_settings):
    primary, degraded, healthy = channel
    OrganizationIntegration.objects.filter(pk=primary.pk).update(
        consecutive_failures=5, breaker_open_until=timezone.now() + timedelta(seconds=30)
    )
    health.run_health_checks(organization=organization)
    assert primary_of(organization).pk == healthy.pk
    # The new primary goes down right away: no second automatic switch inside the cooldown.
    set_health(healthy, "down")
    for _ in range(4):
        health.run_health_checks(organization=organization)
    assert primary_of(organization).pk == healthy.pk
    assert AuditEvent.objects.for_org(organization).filter(action="provider.failover").count() == 1
    # Once the cooldown has passed, it may switch again (to the one usable fallback left).
    later = timezone.now() + timedelta(seconds=failover_settings.FAILOVER_COOLDOWN_SECONDS + 1)
    assert health.evaluate_failover(organization=organization, channel="whatsapp", now=later) == "failed over to Degraded"


@pytest.mark.django_db
def test_without_auto_failover_nothing_switches(organization, channel):
    primary, _, _ = channel
    organization.auto_failover = False
    organization.save()
    set_health(primary, "down")
    for _ in range(4):
        health.run_health_checks(organization=organization)
    assert primary_of(organization).pk == primary.pk
    assert not AuditEvent.objects.for_org(organization).filter(action="provider.failover").exists()


@pytest.mark.django_db
def test_fail_back_only_when_enabled_healthy_and_past_the_cooldown(organization, channel, failover_settings):
    primary, degraded, healthy = channel
    set_health(primary, "down")
    for _ in range(3):
        health.run_health_checks(organization=organization)
    assert primary_of(organization).pk == healthy.pk
    set_health(primary, "healthy")
    health.run_health_checks(organization=organization)
    assert primary_of(organization).pk == healthy.pk  # auto_failback is off by default

    organization.auto_failback = True
    organization.save()
    health.run_health_checks(organization=organization)
    assert primary_of(organization).pk == healthy.pk  # inside the cooldown
    later = timezone.now() + timedelta(seconds=failover_settings.FAILOVER_COOLDOWN_SECONDS + 1)
    assert health.evaluate_failover(organization=organization, channel="whatsapp", now=later) == "failed back to Primary"
    assert primary_of(organization).pk == primary.pk
    event = AuditEvent.objects.for_org(organization).get(action="provider.failback")
    assert event.actor == "system:health" and event.after["primary"]["id"] == str(primary.pk)


@pytest.mark.django_db
def test_notification_webhook_is_signed_over_timestamp_and_body_and_audited(organization):
    organization.notification_secret = "whsec-notify-0123456789"
    with LoopbackServer() as receiver:
        receiver.route("POST", "/hooks/switchboard", Reply(status=204, body=b""))
        organization.notification_url = f"{receiver.url}/hooks/switchboard"
        organization.save()
        payload = {"id": "n1", "event": notifications.PROVIDER_DOWN, "summary": "Primary is down", "data": {}}
        status = notifications.deliver_notification_webhook(
            organization_id=str(organization.pk), payload=payload, final_attempt=False
        )
        (request,) = receiver.requests
    assert status == 204
    timestamp = request.header(notifications.TIMESTAMP_HEADER)
    expected = hmac.new(b"whsec-notify-0123456789", timestamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
    assert request.header(notifications.SIGNATURE_HEADER) == f"sha256={expected}"
    assert json.loads(request.body)["event"] == "provider.down"
    assert abs(int(timestamp) - int(timezone.now().timestamp())) < 5
    event = AuditEvent.objects.for_org(organization).get(action="notification.webhook")
    assert event.outcome == "success" and event.after["status"] == 204
    assert "whsec-notify" not in json.dumps([event.after, event.reason])


@pytest.mark.django_db
def test_notification_webhook_failure_is_retried_then_audited_as_failed(organization):
    organization.notification_secret = "whsec-notify-0123456789"
    with LoopbackServer() as receiver:
        receiver.route("POST", "/hook", Reply(status=503, json={}))
        organization.notification_url = f"{receiver.url}/hook"
        organization.save()
        payload = {"id": "n2", "event": notifications.MESSAGE_FAILED}
        with pytest.raises(notifications.NotificationWebhookFailed):
            notifications.deliver_notification_webhook(organization_id=str(organization.pk), payload=payload, final_attempt=False)
        assert not AuditEvent.objects.for_org(organization).filter(action="notification.webhook").exists()
        notifications.deliver_notification_webhook(organization_id=str(organization.pk), payload=payload, final_attempt=True)
    event = AuditEvent.objects.for_org(organization).get(action="notification.webhook")
    assert event.outcome == "failure" and event.reason == "HTTP 503"


@pytest.mark.django_db
def test_notify_queues_the_webhook_task_on_commit(organization, monkeypatch, django_capture_on_commit_callbacks):
    from celery import current_app

    published = []
    monkeypatch.setattr(current_app, "send_task", lambda name, args=None, kwargs=None, **kw: published.append((name, args)))
    organization.notification_url = "http://127.0.0.1:9/hook"
    organization.save()
    with django_capture_on_commit_callbacks(execute=True):
        notification_id = notifications.notify(organization=organization, event=notifications.PROVIDER_FAILOVER, summary="x")
    assert published[0][0] == "integrations.tasks.send_notification_webhook"
    assert published[0][1][1]["id"] == notification_id


@pytest.mark.django_db
def test_check_providers_prints_a_table_without_secrets(organization, other_organization):
    make_integration(organization=organization, display_name="Acme main")
    down = make_integration(organization=organization, display_name="Acme spare", config={"health": "down"})
    make_integration(organization=other_organization, display_name="Globex main")
    out, err = StringIO(), StringIO()
    call_command("check_providers", "--org", "acme", stdout=out, stderr=err)
    lines = out.getvalue().splitlines()
    assert lines[0].split()[:4] == ["ORG", "CHANNEL", "PRIMARY", "NAME"]
    assert len(lines) == 4 and lines[3] == "Celery broker: reachable."
    assert "Acme main" in out.getvalue() and "Globex" not in out.getvalue()
    assert any("Acme spare" in line and "down" in line for line in lines)
    assert "1 integration(s) down" in err.getvalue()
    assert SECRET_API_KEY not in out.getvalue() + err.getvalue()
    down.refresh_from_db()
    assert down.health_status == "down" and down.health_checked_at is not None


@pytest.mark.django_db
def test_check_providers_says_clearly_when_the_broker_is_down(organization, monkeypatch):
    from celery import current_app

    make_integration(organization=organization)
    monkeypatch.setattr(current_app.conf, "broker_url", "redis://127.0.0.1:1/0")
    out, err = StringIO(), StringIO()
    call_command("check_providers", stdout=out, stderr=err)
    assert "Celery broker UNREACHABLE" in err.getvalue()


@pytest.mark.django_db
def test_a_manual_switch_after_a_failover_cancels_the_fail_back(organization, channel, failover_settings):
    from integrations.services.switching import switch_primary

    primary, degraded, healthy = channel
    organization.auto_failback = True
    organization.save()
    set_health(primary, "down")
    for _ in range(3):
        health.run_health_checks(organization=organization)
    assert primary_of(organization).pk == healthy.pk
    switch_primary(organization=organization, channel="whatsapp", target=degraded, actor="system:test", reason="operator")
    set_health(primary, "healthy")
    health.run_health_checks(organization=organization)
    later = timezone.now() + timedelta(seconds=failover_settings.FAILOVER_COOLDOWN_SECONDS + 1)
    assert health.evaluate_failover(organization=organization, channel="whatsapp", now=later) == ""
    assert primary_of(organization).pk == degraded.pk
