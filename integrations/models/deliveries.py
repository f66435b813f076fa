"""Messages and calls: what was sent (or received) through which integration, and how it went."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy

from integrations.models.integrations import OrganizationIntegration
from integrations.models.organizations import Channel, Organization, OrgScopedQuerySet
from providers import events


class Direction(models.TextChoices):
    OUTBOUND = "out", gettext_lazy("Outbound")
    INBOUND = "in", gettext_lazy("Inbound")


class Delivery(models.Model):
    """What a message and a call share: who sent it where, through which integration, what it
    cost, every attempt, and the lease and idempotency key that delivery relies on."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, verbose_name=gettext_lazy("organization"), on_delete=models.CASCADE, related_name="%(class)ss"
    )
    direction = models.CharField(max_length=3, choices=Direction.choices, default=Direction.OUTBOUND)
    integration = models.ForeignKey(
        OrganizationIntegration, null=True, blank=True, on_delete=models.SET_NULL, related_name="%(class)ss"
    )
    # Kept beside the FK so history survives the integration's deletion.
    provider_name = models.CharField(gettext_lazy("provider name"), max_length=64, blank=True)
    to = models.CharField(gettext_lazy("to"), max_length=64)
    from_number = models.CharField(max_length=64, blank=True)
    cost = models.DecimalField(gettext_lazy("cost"), max_digits=14, decimal_places=6, null=True, blank=True)
    currency = models.CharField(gettext_lazy("currency"), max_length=3, blank=True)
    cost_source = models.CharField(max_length=16, blank=True, help_text="provider or catalog")
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    attempts = models.JSONField(default=list, blank=True)
    retry_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001 (NULL = no key; unique only among keys)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(gettext_lazy("created at"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        abstract = True
        ordering = ["-created_at"]


class Message(Delivery):
    Direction = Direction

    class Status(models.TextChoices):
        QUEUED = events.STATUS_QUEUED, gettext_lazy("Queued")
        SENDING = events.STATUS_SENDING, gettext_lazy("Sending")
        SENT = events.STATUS_SENT, gettext_lazy("Sent")
        DELIVERED = events.STATUS_DELIVERED, gettext_lazy("Delivered")
        READ = events.STATUS_READ, gettext_lazy("Read")
        FAILED = events.STATUS_FAILED, gettext_lazy("Failed")

    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.WHATSAPP)
    body = models.TextField(blank=True)
    attachments = models.JSONField(default=list, blank=True, help_text="[{url, mime_type, caption}]")
    reference = models.CharField(max_length=255, blank=True, help_text="Caller's link to a lead or ticket.")
    category = models.CharField(max_length=32, blank=True, help_text="Pricing category, when templated.")
    # Routing-policy rules match these (e.g. "internal"); see docs/POLICIES.md.
    tags = models.JSONField(default=list, blank=True)
    # A template send: the template (its category is copied to ``category``, its rendered text
    # to ``body``) and its values. ``template_variables`` is NULL for every other message, so a
    # template deleted before the send (``template`` NULL) is still known to be a template send.
    template = models.ForeignKey(
        "integrations.MessageTemplate", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    template_variables = models.JSONField(null=True, blank=True, default=None)
    # A template send's header and button values: {"header": {"media_url", "media_kind", "filename",
    # "variables"}, "buttons": [{"index", "kind", "value"}]}; NULL when it needs none.
    template_parameters = models.JSONField(null=True, blank=True, default=None)
    # An interactive message (reply buttons or a list) as the API took it; ``body`` holds its
    # numbered-text rendering (what history shows, and what bridges send).
    interactive = models.JSONField(null=True, blank=True, default=None)
    # Who an inbound message came from, as the provider names them: the conversation (a phone, or
    # a bridge's ``…@c.us`` / ``…@g.us`` group / ``…@lid``), its kind (``providers.events.CHAT_*``)
    # and, in a group, the member who wrote. ``from_number`` is only ever a real phone number.
    chat_id = models.CharField(max_length=255, blank=True)
    chat_kind = models.CharField(max_length=16, blank=True)
    sender_id = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    provider_message_id = models.CharField(max_length=255, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta(Delivery.Meta):
        db_table = "messages"
        verbose_name = gettext_lazy("message")
        verbose_name_plural = gettext_lazy("messages")
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="message_unique_idempotency_key",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "channel", "-created_at"], name="message_org_channel_idx"),
            models.Index(fields=["status", "lease_expires_at"], name="message_status_lease_idx"),
            # The queue depth an organization may not pass (services/delivery/queue_depth.py).
            models.Index(fields=["organization"], condition=Q(status__in=["queued", "sending"]),
                         name="message_org_waiting_idx"),
            models.Index(fields=["integration", "provider_message_id"], name="message_provider_id_idx"),
        ]

    def __str__(self):
        return f"{self.get_direction_display()} {self.channel} to {self.to} ({self.status})"


class Call(Delivery):
    class Status(models.TextChoices):
        QUEUED = events.CALL_QUEUED, gettext_lazy("Queued")
        DIALING = events.CALL_DIALING, gettext_lazy("Dialing")
        INITIATED = events.CALL_INITIATED, gettext_lazy("Initiated")
        RINGING = events.CALL_RINGING, gettext_lazy("Ringing")
        ANSWERED = events.CALL_ANSWERED, gettext_lazy("Answered")
        COMPLETED = events.CALL_COMPLETED, gettext_lazy("Completed")
        BUSY = events.CALL_BUSY, gettext_lazy("Busy")
        NO_ANSWER = events.CALL_NO_ANSWER, gettext_lazy("No answer")
        FAILED = events.CALL_FAILED, gettext_lazy("Failed")

    twiml = models.TextField(blank=True, help_text="Call instructions, for providers that take them.")
    reference = models.CharField(max_length=255, blank=True)
    status = models.CharField(gettext_lazy("status"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    provider_call_id = models.CharField(max_length=255, blank=True)
    duration_seconds = models.PositiveIntegerField(gettext_lazy("duration seconds"), null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta(Delivery.Meta):
        db_table = "calls"
        verbose_name = gettext_lazy("call")
        verbose_name_plural = gettext_lazy("calls")
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="call_unique_idempotency_key",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="call_org_created_idx"),
            models.Index(fields=["status", "lease_expires_at"], name="call_status_lease_idx"),
            models.Index(fields=["integration", "provider_call_id"], name="call_provider_id_idx"),
        ]

    def __str__(self):
        return f"Call to {self.to} ({self.status})"
