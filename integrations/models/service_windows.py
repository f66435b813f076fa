"""WhatsApp's 24-hour customer-service window, per (organization, channel, contact).

Official providers (``providers.features.SERVICE_WINDOW``: Meta, Twilio) accept free-form
messages to a contact only within 24 hours of that contact's last message; outside it only an
approved template opens the conversation (Meta 131047, Twilio 63016). The window is tracked from
inbound messages (and replies) as the webhooks store them; bridges have no window.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.db import models
from django.utils.translation import gettext_lazy

from integrations.models.organizations import Channel, Organization, OrgScopedQuerySet

WINDOW = timedelta(hours=24)


class ServiceWindow(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="service_windows")
    channel = models.CharField(gettext_lazy("channel"), max_length=16, choices=Channel.choices, default=Channel.WHATSAPP)
    contact = models.CharField(max_length=64, help_text="The contact's phone number (E.164).")
    last_inbound_at = models.DateTimeField(help_text="When the contact last wrote; the window is 24 hours from it.")

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        verbose_name = gettext_lazy("service window")
        verbose_name_plural = gettext_lazy("service windows")
        db_table = "service_windows"
        ordering = ["-last_inbound_at"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "channel", "contact"], name="service_window_unique_contact"),
        ]

    def __str__(self):
        return f"{self.contact} ({self.channel}) since {self.last_inbound_at:%Y-%m-%d %H:%M}"

    @property
    def expires_at(self):
        return self.last_inbound_at + WINDOW
