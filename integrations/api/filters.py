"""List filters (django-filter). Querysets arrive already scoped to the request's organization."""

from __future__ import annotations

from datetime import UTC

import django_filters

from audit.models import AuditEvent
from integrations.models import Call, Channel, Message, OrganizationIntegration


class CreatedRangeFilter(django_filters.IsoDateTimeFromToRangeFilter):
    """``created_after`` / ``created_before`` compared in UTC.

    ISO 8601 allows offsets up to ±23:59; PostgreSQL refuses those beyond ±15:59 and the
    request would fail with a server error. In UTC every offset is fine. A bound that leaves
    the representable range once in UTC stops bounding (``before`` year 9999) or matches
    nothing (``after`` year 9999).
    """

    def filter(self, qs, value):
        if not value:
            return super().filter(qs, value)
        start, stop = value.start, value.stop
        try:
            start = start.astimezone(UTC) if start is not None else None
        except OverflowError:
            if start.year >= 9999:
                return qs.none()
            start = None
        try:
            stop = stop.astimezone(UTC) if stop is not None else None
        except OverflowError:
            if stop.year <= 1:
                return qs.none()
            stop = None
        return super().filter(qs, slice(start, stop) if (start, stop) != (None, None) else None)


class IntegrationFilter(django_filters.FilterSet):
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    status = django_filters.ChoiceFilter(choices=OrganizationIntegration.Status.choices)
    is_primary = django_filters.BooleanFilter()

    class Meta:
        model = OrganizationIntegration
        fields = ["channel", "status", "is_primary"]


class MessageFilter(django_filters.FilterSet):
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    status = django_filters.ChoiceFilter(choices=Message.Status.choices)
    direction = django_filters.ChoiceFilter(choices=Message.Direction.choices)
    reference = django_filters.CharFilter()
    integration = django_filters.UUIDFilter(field_name="integration_id")
    created = CreatedRangeFilter(field_name="created_at")

    class Meta:
        model = Message
        fields = ["channel", "status", "direction", "reference", "integration", "created"]


class CallFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Call.Status.choices)
    direction = django_filters.ChoiceFilter(choices=Message.Direction.choices)
    reference = django_filters.CharFilter()
    integration = django_filters.UUIDFilter(field_name="integration_id")
    created = CreatedRangeFilter(field_name="created_at")

    class Meta:
        model = Call
        fields = ["status", "direction", "reference", "integration", "created"]


class AuditEventFilter(django_filters.FilterSet):
    action = django_filters.CharFilter()
    actor = django_filters.CharFilter(help_text="Exact actor label, e.g. user:alice or system:failover.")
    target = django_filters.CharFilter(field_name="target_id", help_text="Id of the object the event is about.")
    created = CreatedRangeFilter(field_name="created_at", help_text="Date range: created_after / created_before (ISO 8601).")

    class Meta:
        model = AuditEvent
        fields = ["action", "actor", "target", "created"]
