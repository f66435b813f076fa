"""Receiving what providers send back: verify, parse, apply.

This is the one code path that finds an integration by id alone (the id is in the webhook
URL); everything after that is scoped to the integration's organization *and* to the
integration itself, so one integration's webhook can never touch another's messages.

Applying is idempotent: status updates only move a message or call forward along the rank
tables in ``providers.events``, and an inbound message whose provider id is already stored
for this integration is not stored again. Providers retry and replay; nothing changes the
second time.
"""

from __future__ import annotations

import logging
import time
import zlib
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit import context
from audit import services as audit
from audit.models import AuditEvent
from integrations.errors import NotFound
from integrations.models import Call, Message, OrganizationIntegration
from integrations.services.conversation_events import KINDS as CONVERSATION_EVENT_KINDS
from integrations.services.conversation_events import conversation_event_store
from integrations.services.media import media_schedule_download
from integrations.services.queue import enqueue_on_commit
from integrations.services.service_windows import window_record_inbound
from providers import events, features
from providers.errors import ProviderError, WebhookSignatureError
from providers.registry import UnknownProvider
from providers.values import InboundEvent, WebhookRequest

logger = logging.getLogger(__name__)

WEBHOOK_ACTOR = "system:webhook"

SESSION_HEALTH = {
    events.SESSION_WORKING: OrganizationIntegration.Health.HEALTHY,
    events.SESSION_STARTING: OrganizationIntegration.Health.DEGRADED,
    events.SESSION_SCAN_QR: OrganizationIntegration.Health.DEGRADED,
    events.SESSION_STOPPED: OrganizationIntegration.Health.DOWN,
    events.SESSION_FAILED: OrganizationIntegration.Health.DOWN,
}


@dataclass(frozen=True)
class WebhookOutcome:
    status: int
    body: str = ""
    content_type: str = "text/plain"
    applied: int = 0
    unchanged: int = 0
    unmatched: int = 0
    details: list[str] = field(default_factory=list)


def webhook_integration(*, integration_id: UUID | str) -> OrganizationIntegration:
    try:
        return OrganizationIntegration.objects.select_related("organization").get(pk=integration_id)
    except (OrganizationIntegration.DoesNotExist, ValueError):
        raise NotFound(_("No such webhook.")) from None


def webhook_receive(*, integration_id: UUID | str, request: WebhookRequest) -> WebhookOutcome:
    """Handle one webhook request for an integration. Raises ``NotFound`` for an unknown id.

    GET answers the provider's verification handshake (Meta), POST is verified, parsed and
    applied. A request that fails verification gets 403, changes nothing, is logged, and leaves
    an audit event ``webhook.rejected`` (never the payload), at most one per integration per
    window (``_reject``).
    """
    integration = webhook_integration(integration_id=integration_id)
    context.set_scope(organization_id=integration.organization_id, integration_id=integration.pk)
    try:
        adapter = integration.adapter()
    except UnknownProvider:
        # The provider's plugin is no longer installed: nothing here can verify the request.
        logger.warning("Webhook for integration %s: provider '%s' is not registered.", integration.pk, integration.provider_name)
        raise NotFound(_("No such webhook.")) from None

    if request.method == "GET":
        try:
            response = adapter.answer_handshake(request)
        except WebhookSignatureError as exc:
            return _reject(integration, request, exc)
        if response is None:
            return WebhookOutcome(status=405, body="This provider sends no verification handshake.")
        return WebhookOutcome(status=response.status, body=response.body, content_type=response.content_type)

    try:
        adapter.authenticate_webhook(request)
    except WebhookSignatureError as exc:
        return _reject(integration, request, exc)
    try:
        parsed = adapter.webhook_events(request)
    except ProviderError as exc:
        logger.warning("Webhook for integration %s could not be parsed: %s", integration.pk, adapter.scrub(str(exc)))
        return WebhookOutcome(status=400, body="The webhook body could not be parsed.")
    return webhook_apply_events(integration=integration, parsed=parsed)


def _rejection_window(now: float) -> tuple[int, int]:
    seconds = max(int(settings.WEBHOOK_REJECTION_AUDIT_SECONDS), 1)
    return int(now // seconds), seconds


def _count_rejection(integration_id: Any, window: int) -> tuple[int | None, int]:
    """(rejections in this window so far, or None without the cache; rejections of the previous
    window, handed over once when this window's first one comes)."""
    key = f"sb:webhook-rejected:{integration_id}:{window}"
    try:
        cache.add(key, 0, timeout=settings.WEBHOOK_REJECTION_AUDIT_SECONDS * 3)
        count = int(cache.incr(key))
        previous = 0
        if count == 1:
            previous_key = f"sb:webhook-rejected:{integration_id}:{window - 1}"
            previous = int(cache.get(previous_key) or 0)
            cache.delete(previous_key)
        return count, previous
    except Exception as exc:
        logger.warning("Cache unavailable for webhook rejection counts (%s); rejections are logged only.", type(exc).__name__)
        return None, 0


def _reject(integration: OrganizationIntegration, request: WebhookRequest, exc: WebhookSignatureError) -> WebhookOutcome:
    """403, a log line for every rejection, and at most one audit row per integration per
    window (``WEBHOOK_REJECTION_AUDIT_SECONDS``): anyone who knows a webhook URL can send
    forgeries, and must not be able to fill an organization's audit trail with them. The row is
    written by the window's first rejection and carries the count of the previous window (the
    trail is append-only, so a count is written once it is known); the log lines carry the
    running count."""
    reason = integration.adapter().scrub(exc.message)
    window, seconds = _rejection_window(time.time())
    count, previous = _count_rejection(integration.pk, window)
    logger.warning("Rejected webhook for integration %s (%s in this %ss window): %s",
                   integration.pk, "?" if count is None else count, seconds, reason)
    if count == 1:
        audit.record(
            action="webhook.rejected",
            actor=WEBHOOK_ACTOR,
            organization=integration.organization,
            target=integration,
            outcome=AuditEvent.Outcome.REFUSED,
            reason=reason,
            # What was asked, never what was sent: no body, no headers, no query values.
            after={"method": request.method, "provider": integration.provider_name, "body_bytes": len(request.body),
                   "window_seconds": seconds, "rejected_in_previous_window": previous},
        )
    return WebhookOutcome(status=403, body="Forbidden")


def webhook_apply_events(*, integration: OrganizationIntegration, parsed: list[InboundEvent]) -> WebhookOutcome:
    applied = unchanged = unmatched = 0
    details: list[str] = []
    with transaction.atomic():
        for event in parsed:
            if event.kind == events.MESSAGE_STATUS:
                result = _apply_message_status(integration, event)
            elif event.kind == events.CALL_STATUS:
                result = _apply_call_status(integration, event)
            elif event.kind == events.INBOUND_MESSAGE:
                result = _store_inbound(integration, event)
            elif event.kind == events.SESSION_STATUS:
                result = _apply_session_status(integration, event)
            elif event.kind == events.CALL_COST:
                result = _apply_call_cost(integration, event)
            elif event.kind in CONVERSATION_EVENT_KINDS:
                result = conversation_event_store(integration=integration, event=event)
            else:
                result = "unmatched"
            _continue_call(integration, event)
            applied += result == "applied"
            unchanged += result == "unchanged"
            unmatched += result == "unmatched"
            details.append(f"{event.kind}:{result}")
    return WebhookOutcome(status=200, body="OK", applied=applied, unchanged=unchanged, unmatched=unmatched, details=details)


def _lock_key(integration: OrganizationIntegration, provider_id: str) -> None:
    """Serialize concurrent deliveries of the same provider id (PostgreSQL advisory lock).

    Without it, a provider retrying while the first delivery is still being stored could
    insert the same inbound message twice. SQLite (the embedded default) serializes writes on
    its own.
    """
    if connection.vendor != "postgresql":
        return
    key = zlib.crc32(f"{integration.pk}:{provider_id}".encode())
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [0x5B, key - (1 << 31)])


def _apply_message_status(integration: OrganizationIntegration, event: InboundEvent) -> str:
    if not event.provider_message_id or event.status not in events.MESSAGE_STATUS_RANK:
        return "unmatched"
    message = (
        Message.objects.for_org(integration.organization)
        .select_for_update()
        .filter(integration=integration, direction=Message.Direction.OUTBOUND, provider_message_id=event.provider_message_id)
        .first()
    )
    if message is None:
        return "unmatched"
    if events.MESSAGE_STATUS_RANK[event.status] <= events.MESSAGE_STATUS_RANK.get(message.status, 0):
        return "unchanged"
    now = event.occurred_at or timezone.now()
    message.status = event.status
    fields = ["status", "updated_at"]
    stamp = {
        events.STATUS_SENT: "sent_at",
        events.STATUS_DELIVERED: "delivered_at",
        events.STATUS_READ: "read_at",
        events.STATUS_FAILED: "failed_at",
    }.get(event.status)
    if stamp and getattr(message, stamp) is None:
        setattr(message, stamp, now)
        fields.append(stamp)
    if event.status == events.STATUS_READ and message.delivered_at is None:
        message.delivered_at = now
        fields.append("delivered_at")
    if event.status == events.STATUS_FAILED:
        message.error = (event.error_message or "The provider reported a delivery failure.")[:2000]
        message.error_code = event.error_code[:64]
        fields += ["error", "error_code"]
    if event.cost is not None and message.cost is None:
        message.cost, message.currency, message.cost_source = event.cost, (event.currency or "")[:3], "provider"
        fields += ["cost", "currency", "cost_source"]
    message.save(update_fields=fields)
    return "applied"


CALL_STAMPS = {
    events.CALL_INITIATED: "started_at",
    events.CALL_ANSWERED: "answered_at",
    events.CALL_COMPLETED: "ended_at",
    events.CALL_BUSY: "ended_at",
    events.CALL_NO_ANSWER: "ended_at",
    events.CALL_FAILED: "ended_at",
}


def _apply_call_status(integration: OrganizationIntegration, event: InboundEvent) -> str:
    if not event.provider_message_id or event.status not in events.CALL_STATUS_RANK:
        return "unmatched"
    call = (
        Call.objects.for_org(integration.organization)
        .select_for_update()
        .filter(integration=integration, provider_call_id=event.provider_message_id)
        .first()
    )
    if call is None:
        return "unmatched"
    if events.CALL_STATUS_RANK[event.status] <= events.CALL_STATUS_RANK.get(call.status, 0):
        return "unchanged"
    now = event.occurred_at or timezone.now()
    call.status = event.status
    fields = ["status", "updated_at"]
    stamp = CALL_STAMPS.get(event.status)
    if stamp and getattr(call, stamp) is None:
        setattr(call, stamp, now)
        fields.append(stamp)
    if event.duration_seconds is not None:
        call.duration_seconds = int(event.duration_seconds)
        fields.append("duration_seconds")
    if event.status == events.CALL_FAILED and event.error_code:
        call.error_code = event.error_code[:64]
        fields.append("error_code")
    if event.cost is not None and call.cost is None:
        call.cost, call.currency, call.cost_source = event.cost, (event.currency or "")[:3], "provider"
        fields += ["cost", "currency", "cost_source"]
    call.save(update_fields=fields)
    return "applied"


def _apply_call_cost(integration: OrganizationIntegration, event: InboundEvent) -> str:
    """What the provider says the call cost (Telnyx ``call.cost``) replaces any estimate."""
    if not event.provider_message_id or event.cost is None:
        return "unmatched"
    updated = (
        Call.objects.for_org(integration.organization)
        .filter(integration=integration, provider_call_id=event.provider_message_id)
        .exclude(cost=event.cost, cost_source="provider")
        .update(cost=event.cost, currency=(event.currency or "")[:3], cost_source="provider", updated_at=timezone.now())
    )
    if updated:
        return "applied"
    exists = Call.objects.for_org(integration.organization).filter(
        integration=integration, provider_call_id=event.provider_message_id).exists()
    return "unchanged" if exists else "unmatched"


def _continue_call(integration: OrganizationIntegration, event: InboundEvent) -> None:
    """Queue the next step of a call whose instructions run as commands (Telnyx) once this
    transaction commits; the adapter ignores events it has nothing to do for."""
    wanted = event.kind == events.CALL_PROGRESS or (event.kind == events.CALL_STATUS and event.status == events.CALL_ANSWERED)
    if not wanted or not event.provider_message_id or not integration.provider_class().supports(features.CALL_SCRIPTS):
        return
    enqueue_on_commit("integrations.tasks.continue_call", str(integration.organization_id), str(integration.pk), event.kind,
                      event.provider_message_id, dict(event.raw))


def _store_inbound(integration: OrganizationIntegration, event: InboundEvent) -> str:
    provider_id = event.provider_message_id or event.event_id
    if not provider_id:
        return "unmatched"
    _lock_key(integration, provider_id)
    already = (
        Message.objects.for_org(integration.organization)
        .filter(integration=integration, direction=Message.Direction.INBOUND, provider_message_id=provider_id)
        .exists()
    )
    if already:
        return "unchanged"
    received_at = event.occurred_at or timezone.now()
    message = Message.objects.create(
        organization=integration.organization,
        direction=Message.Direction.INBOUND,
        channel=integration.channel,
        integration=integration,
        provider_name=integration.provider_name,
        to=event.to_number[:64],
        from_number=event.from_number[:64],
        chat_id=event.chat_id[:255],
        chat_kind=event.chat_kind[:16],
        sender_id=event.sender_id[:255],
        body=event.body,
        attachments=[_attachment_dict(a) for a in event.attachments],
        status=Message.Status.DELIVERED,
        provider_message_id=provider_id[:255],
        created_at=received_at,
        delivered_at=received_at,
    )
    if event.chat_kind in ("", events.CHAT_DIRECT):  # a group message opens no one-to-one window
        window_record_inbound(organization=integration.organization, channel=integration.channel,
                              contact=event.from_number, at=received_at)
    media_schedule_download(integration=integration, message=message)
    return "applied"


def _attachment_dict(attachment: Any) -> dict[str, str]:
    return {"url": attachment.url, "mime_type": attachment.mime_type, "caption": attachment.caption, "filename": attachment.filename}


def _apply_session_status(integration: OrganizationIntegration, event: InboundEvent) -> str:
    health = SESSION_HEALTH.get(event.status)
    if health is None:
        return "unmatched"
    updated = OrganizationIntegration.objects.for_org(integration.organization).filter(pk=integration.pk).exclude(health_status=health).update(
        health_status=health,
        health_checked_at=timezone.now(),
        health_detail=f"Bridge session reported {event.status}.",
    )
    return "applied" if updated else "unchanged"
