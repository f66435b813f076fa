"""The organization's audit trail, read-only."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import viewsets

from audit.models import AuditEvent
from integrations.api import filters
from integrations.api import serializers as s
from integrations.api.scoping import OrganizationQuerysetMixin
from integrations.selectors.audit import audit_events


@extend_schema(tags=["audit"])
class AuditEventViewSet(OrganizationQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """The organization's audit trail, newest first. Read-only: the trail is append-only."""

    serializer_class = s.AuditEventSerializer
    filterset_class = filters.AuditEventFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return AuditEvent.objects.none()
        return audit_events(organization=self.request.organization).order_by("-created_at", "-id")
