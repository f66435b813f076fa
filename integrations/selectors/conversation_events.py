"""Reads of contacts' replies, reactions and system notices."""

from __future__ import annotations

from django.db.models import QuerySet

from integrations.models import ConversationEvent, Organization


def conversation_event_list(*, organization: Organization) -> QuerySet[ConversationEvent]:
    return ConversationEvent.objects.for_org(organization).order_by("-occurred_at", "-id")
