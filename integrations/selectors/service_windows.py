"""Reads of the 24-hour customer-service windows."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
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


@dataclass(frozen=True)
class WindowRow:
    """One contact's window as a screen shows it."""

    contact: str
    last_inbound_at: datetime
    expires_at: datetime
    open: bool


def _row(window: ServiceWindow, now: datetime) -> WindowRow:
    return WindowRow(contact=window.contact, last_inbound_at=window.last_inbound_at,
                     expires_at=window.expires_at, open=window.expires_at > now)


def window_overview(*, organization: Organization, channel: str, limit: int = 5,
                    now: datetime | None = None) -> dict:
    """How many of the organization's contacts on ``channel`` have an open window now, and the
    ``limit`` windows most recently opened (open or closed)."""
    now = now or timezone.now()
    windows = ServiceWindow.objects.for_org(organization).filter(channel=channel)
    return {
        "open_count": windows.filter(last_inbound_at__gt=now - WINDOW).count(),
        "recent": [_row(window, now) for window in windows.order_by("-last_inbound_at", "id")[:limit]],
    }


def contact_window(*, organization: Organization, channel: str, contact: str,
                   now: datetime | None = None) -> WindowRow | None:
    """The window of one contact (E.164), or None when the contact never wrote on ``channel``."""
    window = ServiceWindow.objects.for_org(organization).filter(channel=channel, contact=contact).first()
    return None if window is None else _row(window, now or timezone.now())
