"""Reads of the 24-hour customer-service windows."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from integrations.models import Organization, ServiceWindow
from integrations.models.service_windows import WINDOW


def window_list(*, organization: Organization) -> QuerySet[ServiceWindow]:
    return ServiceWindow.objects.for_org(organization).order_by("-last_inbound_at", "id")


def open_contacts(*, organization: Organization, channel: str, contacts: Iterable[str],
                  now: datetime | None = None) -> set[str]:
    """Which of ``contacts`` wrote to the organization on ``channel`` in the last 24 hours."""
    contacts = {contact for contact in contacts if contact}
    if not contacts:
        return set()
    since = (now or timezone.now()) - WINDOW
    return set(
        ServiceWindow.objects.for_org(organization)
        .filter(channel=channel, contact__in=contacts, last_inbound_at__gt=since)
        .values_list("contact", flat=True)
    )
