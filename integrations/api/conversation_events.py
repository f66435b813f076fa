"""Replies, reactions and system notices contacts' activity produced (read-only)."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets

from integrations.api.filters import CreatedRangeFilter
from integrations.api.scoping import OrganizationQuerysetMixin
from integrations.models import ConversationEvent
from integrations.selectors.conversation_events import conversation_event_list


class ConversationEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = ConversationEvent
        fields = [
            "id", "kind", "channel", "integration", "contact", "chat_id", "provider_event_id", "related_message",
            "related_provider_message_id", "reply_kind", "reply_id", "reply_title", "reply_description", "emoji",
            "system_type", "system_body", "system_new_id", "occurred_at", "created_at",
        ]
        read_only_fields = fields


class ConversationEventFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=ConversationEvent.Kind.choices)
    contact = django_filters.CharFilter()
    related_message = django_filters.UUIDFilter(field_name="related_message_id")
    occurred = CreatedRangeFilter(field_name="occurred_at")

    class Meta:
        model = ConversationEvent
        fields = ["kind", "contact", "related_message", "occurred"]


@extend_schema(tags=["messages"])
class ConversationEventViewSet(OrganizationQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                               viewsets.GenericViewSet):
    """What contacts tapped (reply buttons, list rows, template quick replies, with id and
    title), their reactions (an empty emoji: removed), and the platform's notices about them."""

    serializer_class = ConversationEventSerializer
    filterset_class = ConversationEventFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ConversationEvent.objects.none()
        return conversation_event_list(organization=self.request.organization)
