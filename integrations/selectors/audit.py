"""Reads of the audit trail, always scoped to organizations."""

from __future__ import annotations

from django.db.models import QuerySet

from audit.models import AuditEvent
from integrations.models import Organization


def audit_events(*, organization: Organization) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.for_org(organization)


def administered_audit_events(*, organizations: QuerySet[Organization]) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(organization__in=organizations)
