"""Storing what contacts do besides writing messages — reply taps, reactions — and platform
notices about them, from webhook events (``providers.events.INTERACTIVE_REPLY``, ``REACTION``,
``SYSTEM_NOTICE``). Runs inside the webhook's transaction; idempotent per provider id.

A reply is the contact writing (it opens their 24-hour window, like a message); a reaction and a
system notice are not.
"""

from __future__ import annotations

from django.db import connection
from django.utils import timezone

from integrations.models import ConversationEvent, Message, OrganizationIntegration
from integrations.services.service_windows import window_record_inbound
from providers import events
from providers.values import InboundEvent

KINDS = (events.INTERACTIVE_REPLY, events.REACTION, events.SYSTEM_NOTICE)


def _lock(integration: OrganizationIntegration, provider_id: str) -> None:
    """One delivery of a provider id at a time (the provider retries while we store it)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [0x5C, f"{integration.pk}:{provider_id}"])


def _related_message(integration: OrganizationIntegration, provider_message_id: str) -> Message | None:
    if not provider_message_id:
        return None
    return (
        Message.objects.for_org(integration.organization)
        .filter(integration=integration, provider_message_id=provider_message_id)
        .only("pk").first()
    )


def conversation_event_store(*, integration: OrganizationIntegration, event: InboundEvent) -> str:
    """"applied", "unchanged" (already stored) or "unmatched" (not one of these kinds)."""
    if event.kind not in KINDS:
        return "unmatched"
    provider_id = (event.provider_message_id or event.event_id)[:255]
    organization = integration.organization
    if provider_id:
        _lock(integration, provider_id)
        if ConversationEvent.objects.for_org(organization).filter(
                integration=integration, kind=event.kind, provider_event_id=provider_id).exists():
            return "unchanged"
    occurred_at = event.occurred_at or timezone.now()
    reply, reaction, system = event.reply, event.reaction, event.system
    ConversationEvent.objects.create(
        organization=organization,
        integration=integration,
        channel=integration.channel,
        kind=event.kind,
        contact=event.from_number[:64],
        chat_id=event.chat_id[:255],
        provider_event_id=provider_id,
        related_provider_message_id=event.related_message_id[:255],
        related_message=_related_message(integration, event.related_message_id),
        reply_kind=(reply.kind if reply else "")[:32],
        reply_id=(reply.id if reply else "")[:256],
        reply_title=(reply.title if reply else "")[:256],
        reply_description=(reply.description if reply else "")[:256],
        emoji=(reaction.emoji if reaction else "")[:32],
        system_type=(system.type if system else "")[:64],
        system_body=(system.body if system else "")[:4000],
        system_new_id=(system.new_id if system else "")[:64],
        occurred_at=occurred_at,
    )
    if event.kind == events.INTERACTIVE_REPLY:
        window_record_inbound(organization=organization, channel=integration.channel, contact=event.from_number, at=occurred_at)
    return "applied"
