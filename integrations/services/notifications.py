"""Telling an organization about critical events.

Events: a provider going down (health check or circuit breaker), an automatic failover or
fail-back, a failed migration, a message or call failing after its last retry.

Each notification goes out two ways, each audited (``notification.email`` /
``notification.webhook``):

* an email to the organization's owners and admins, through Django's mail framework
  (``EMAIL_BACKEND``), sent when the surrounding transaction commits;
* when the organization set ``notification_url``: a signed JSON POST, delivered by the Celery
  task ``integrations.tasks.send_notification_webhook`` with retries and exponential backoff.

Webhook signature (documented for receivers)::

    X-Switchboard-Event:      provider.down
    X-Switchboard-Timestamp:  1767225600            (Unix seconds)
    X-Switchboard-Signature:  sha256=<hex HMAC-SHA256(notification_secret, f"{timestamp}." + body)>

The timestamp is inside the signed bytes, so a captured request cannot be replayed later with a
fresh timestamp; receivers should reject timestamps older than a few minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import uuid
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import formats, timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from audit import services as audit
from integrations.models import Membership, Organization
from integrations.services.queue import enqueue_on_commit
from providers import http
from providers.errors import EgressRefused, ProviderError

logger = logging.getLogger(__name__)

PROVIDER_DOWN = "provider.down"
PROVIDER_FAILOVER = "provider.failover"
PROVIDER_FAILBACK = "provider.failback"
MIGRATION_FAILED = "migration.failed"
MESSAGE_FAILED = "message.failed"
CALL_FAILED = "call.failed"

SIGNATURE_HEADER = "X-Switchboard-Signature"
TIMESTAMP_HEADER = "X-Switchboard-Timestamp"
EVENT_HEADER = "X-Switchboard-Event"
WEBHOOK_TASK = "integrations.tasks.send_notification_webhook"
NOTIFICATION_ANSWER_BYTES = 1024 * 1024  # the receiver's answer is not used; read at most this


def sign_notification(*, secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def admin_emails(*, organization: Organization) -> list[str]:
    return sorted(
        set(
            Membership.objects.filter(organization=organization, role__in=Membership.ADMIN_ROLES)
            .exclude(user__email="")
            .values_list("user__email", flat=True)
        )
    )


def notify(*, organization: Organization, event: str, summary: Any, data: dict[str, Any] | None = None) -> str:
    """Notify the organization of a critical event; returns the notification id.

    Safe to call inside a transaction: nothing leaves the process before it commits, and a
    rolled-back change notifies nobody. ``summary`` and ``data`` must hold no secrets. A lazy
    ``summary`` (``format_lazy``) is worded in the deployment's language, like the email.
    """
    with translation.override(settings.LANGUAGE_CODE):
        summary = str(summary)
    notification_id = uuid.uuid4().hex
    payload = {
        "id": notification_id,
        "event": event,
        "organization": {"id": str(organization.pk), "slug": organization.slug},
        "summary": summary,
        "data": data or {},
        "occurred_at": timezone.now().isoformat(),
    }
    recipients = admin_emails(organization=organization)
    if recipients:
        transaction.on_commit(
            lambda: _send_email(organization=organization, payload=payload, recipients=recipients)
        )
    if organization.notification_url:
        enqueue_on_commit(WEBHOOK_TASK, str(organization.pk), payload)
    return notification_id


def email_text(*, organization: Organization, payload: dict[str, Any]) -> tuple[str, str]:
    """(subject, body) in the deployment's language (``LANGUAGE_CODE``): the email goes out
    after the request that caused it, to people whose language no request told us."""
    with translation.override(settings.LANGUAGE_CODE):
        occurred = parse_datetime(payload["occurred_at"])
        when = formats.date_format(timezone.localtime(occurred), "DATETIME_FORMAT") if occurred else payload["occurred_at"]
        subject = f"[Switchboard] {organization.name}: {payload['summary']}"[:200]
        body = _(
            "%(summary)s\n\nEvent: %(event)s\nOrganization: %(organization)s\nWhen: %(when)s\n\nDetails:\n%(details)s\n"
        ) % {
            "summary": payload["summary"], "event": payload["event"], "organization": organization.name,
            "when": when, "details": json.dumps(payload["data"], indent=2, default=str),
        }
    return subject, body


def _send_email(*, organization: Organization, payload: dict[str, Any], recipients: list[str]) -> None:
    subject, body = email_text(organization=organization, payload=payload)
    outcome, reason = "success", ""
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients, fail_silently=False)
    except Exception as exc:
        outcome, reason = "failure", f"{type(exc).__name__}: {exc}"[:500]
        logger.error("Notification email %s failed: %s", payload["id"], reason)
    audit.record(
        action="notification.email",
        actor="system:notifications",
        organization=organization,
        after={"notification": payload["id"], "event": payload["event"], "recipients": recipients},
        outcome=outcome,
        reason=reason,
    )


class NotificationWebhookFailed(Exception):
    """A delivery attempt of the outgoing webhook failed; the task retries it."""


def deliver_notification_webhook(*, organization_id: str, payload: dict[str, Any], final_attempt: bool) -> int:
    """POST one signed notification. Returns the HTTP status; raises
    ``NotificationWebhookFailed`` for a failure worth retrying (network, 5xx, 429) unless this is
    the last attempt, which is audited as a failure instead."""
    organization = Organization.objects.get(pk=organization_id)
    url = organization.notification_url
    if not url:
        return 0
    if not organization.notification_secret:
        # Unsigned notifications could be forged by anyone who learns the URL; refuse to send.
        audit.record(
            action="notification.webhook",
            actor="system:notifications",
            organization=organization,
            after={"notification": payload.get("id"), "event": payload.get("event"), "status": 0},
            outcome="failure",
            reason="No signing secret: rotate the notification secret in the admin.",
        )
        return 0
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        EVENT_HEADER: payload.get("event", ""),
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign_notification(
            secret=organization.notification_secret, timestamp=timestamp, body=body
        ),
    }
    status, problem = 0, ""
    timeout = settings.NOTIFICATION_WEBHOOK_TIMEOUT
    try:
        # Through the egress guard like every request made on a tenant's behalf: an internal
        # address is refused before anything is sent, and its answer is never read.
        response = http.send("POST", url, provider="Notification webhook", timeout=(timeout, timeout),
                             data=body, headers=headers, max_bytes=NOTIFICATION_ANSWER_BYTES)
        status = response.status_code
        if status >= 500 or status == 429:
            problem = f"HTTP {status}"
        elif status >= 300:
            problem = f"HTTP {status} (not retried)"
    except EgressRefused:
        problem = "the notification URL is not allowed (not retried)"
    except ProviderError as exc:
        problem = exc.code or "request failed"

    retryable = problem and not problem.endswith("(not retried)")
    if retryable and not final_attempt:
        raise NotificationWebhookFailed(problem)
    audit.record(
        action="notification.webhook",
        actor="system:notifications",
        organization=organization,
        after={"notification": payload.get("id"), "event": payload.get("event"), "status": status},
        outcome="failure" if problem else "success",
        reason=problem,
    )
    return status
