"""The tenant-facing domain: organizations, their provider integrations, messages and calls.

The invariants that matter most live in the database, not only here: one primary per
(organization, channel) is a partial unique index, and a primary must be active (a check).
Writes go through ``integrations.services``; nothing else sets ``is_primary``.
"""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from encrypted_fields.fields import EncryptedCharField, EncryptedJSONField

from providers import events
from providers.base import Provider
from providers.values import Channel as ProviderChannel


class Channel(models.TextChoices):
    WHATSAPP = ProviderChannel.WHATSAPP.value, "WhatsApp"
    VOIP = ProviderChannel.VOIP.value, "VoIP"


class Organization(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    auto_failover = models.BooleanField(
        default=False,
        help_text="Switch to the healthiest fallback when the primary stays down.",
    )
    auto_failback = models.BooleanField(
        default=False,
        help_text="Switch back to the original primary once it is healthy again.",
    )
    notification_url = models.URLField(
        blank=True, help_text="Receives signed JSON notifications of critical events."
    )
    # Encrypted fields store "" as NULL, hence null=True.
    notification_secret = EncryptedCharField(max_length=200, blank=True, null=True)  # noqa: DJ001
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "organizations"
        ordering = ["name"]

    def __str__(self):
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"
        VIEWER = "viewer", "Viewer"

    ADMIN_ROLES = (Role.OWNER, Role.ADMIN)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "memberships"
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="membership_unique_user_org"),
        ]

    def __str__(self):
        return f"{self.user} @ {self.organization} ({self.role})"

    @property
    def is_admin(self) -> bool:
        return self.role in self.ADMIN_ROLES


class OrgScopedQuerySet(models.QuerySet):
    def for_org(self, organization):
        return self.filter(organization=organization)


class IntegrationQuerySet(OrgScopedQuerySet):
    def for_channel(self, channel):
        return self.filter(channel=channel)

    def active(self):
        return self.filter(status=OrganizationIntegration.Status.ACTIVE)

    def in_route_order(self):
        """Primary first, then fallbacks by priority (higher first), oldest first on ties."""
        return self.order_by("-is_primary", "-priority", "created_at", "id")


def generate_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


class OrganizationIntegration(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending (configured, not yet tested)"
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Inactive"
        ERROR = "error", "Error"

    class Health(models.TextChoices):
        UNKNOWN = "unknown", "Unknown"
        HEALTHY = "healthy", "Healthy"
        DEGRADED = "degraded", "Degraded"
        DOWN = "down", "Down"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="integrations")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    provider_name = models.CharField(max_length=64)
    display_name = models.CharField(max_length=120)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    credentials = EncryptedJSONField(default=dict, blank=True)
    webhook_secret = EncryptedCharField(max_length=200, default=generate_webhook_secret)
    config = models.JSONField(default=dict, blank=True)
    is_primary = models.BooleanField(default=False)
    priority = models.IntegerField(default=0, help_text="Fallback order: higher goes first.")

    health_status = models.CharField(max_length=16, choices=Health.choices, default=Health.UNKNOWN)
    health_checked_at = models.DateTimeField(null=True, blank=True)
    health_latency_ms = models.PositiveIntegerField(null=True, blank=True)
    health_detail = models.TextField(blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    breaker_open_until = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = IntegrationQuerySet.as_manager()

    class Meta:
        db_table = "organization_integrations"
        ordering = ["organization", "channel", "-is_primary", "-priority", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "channel"],
                condition=Q(is_primary=True),
                name="integration_one_primary_per_org_channel",
            ),
            models.CheckConstraint(
                condition=Q(is_primary=False) | Q(status="active"),
                name="integration_primary_is_active",
            ),
            models.UniqueConstraint(
                fields=["organization", "channel", "display_name"],
                name="integration_unique_display_name",
            ),
        ]
        indexes = [
            models.Index(
                fields=["organization", "channel", "status", "-priority"],
                name="integration_routing_idx",
            ),
        ]

    def __str__(self):
        return f"{self.display_name} ({self.provider_name})"

    # ----- provider binding

    def provider_class(self) -> type[Provider]:
        from providers.registry import get_provider_class

        return get_provider_class(self.provider_name)

    @property
    def webhook_url(self) -> str:
        from django.urls import NoReverseMatch, reverse

        try:
            path = reverse("webhooks:receive", kwargs={"integration_id": self.pk})
        except NoReverseMatch:
            path = f"/webhooks/{self.pk}/"
        return settings.PUBLIC_BASE_URL.rstrip("/") + path

    def adapter(self) -> Provider:
        """A provider instance bound to this integration's configuration."""
        return self.provider_class()(
            config=self.config,
            credentials=self.credentials,
            webhook_secret=self.webhook_secret,
            webhook_url=self.webhook_url,
        )

    def breaker_is_open(self, now=None) -> bool:
        return bool(self.breaker_open_until and self.breaker_open_until > (now or timezone.now()))

    def snapshot(self) -> dict:
        """What the audit trail may keep of this row: never credentials or the webhook secret."""
        return {
            "id": str(self.pk),
            "channel": self.channel,
            "provider_name": self.provider_name,
            "display_name": self.display_name,
            "status": self.status,
            "is_primary": self.is_primary,
            "priority": self.priority,
            "config": self.config,
            "credential_fields": sorted(self.credentials or {}),
        }


class Message(models.Model):
    class Direction(models.TextChoices):
        OUTBOUND = "out", "Outbound"
        INBOUND = "in", "Inbound"

    class Status(models.TextChoices):
        QUEUED = events.STATUS_QUEUED, "Queued"
        SENDING = events.STATUS_SENDING, "Sending"
        SENT = events.STATUS_SENT, "Sent"
        DELIVERED = events.STATUS_DELIVERED, "Delivered"
        READ = events.STATUS_READ, "Read"
        FAILED = events.STATUS_FAILED, "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=3, choices=Direction.choices, default=Direction.OUTBOUND)
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.WHATSAPP)
    integration = models.ForeignKey(
        OrganizationIntegration, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    # Kept beside the FK so history survives the integration's deletion.
    provider_name = models.CharField(max_length=64, blank=True)
    to = models.CharField(max_length=64)
    from_number = models.CharField(max_length=64, blank=True)
    body = models.TextField(blank=True)
    attachments = models.JSONField(default=list, blank=True, help_text="[{url, mime_type, caption}]")
    reference = models.CharField(max_length=255, blank=True, help_text="Caller's link to a lead or ticket.")
    category = models.CharField(max_length=32, blank=True, help_text="Pricing category, when templated.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    provider_message_id = models.CharField(max_length=255, blank=True)
    cost = models.DecimalField(max_digits=14, decimal_places=6, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
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
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        db_table = "messages"
        ordering = ["-created_at"]
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
            models.Index(fields=["integration", "provider_message_id"], name="message_provider_id_idx"),
        ]

    def __str__(self):
        return f"{self.get_direction_display()} {self.channel} to {self.to} ({self.status})"


class Call(models.Model):
    class Status(models.TextChoices):
        QUEUED = events.CALL_QUEUED, "Queued"
        DIALING = events.CALL_DIALING, "Dialing"
        INITIATED = events.CALL_INITIATED, "Initiated"
        RINGING = events.CALL_RINGING, "Ringing"
        ANSWERED = events.CALL_ANSWERED, "Answered"
        COMPLETED = events.CALL_COMPLETED, "Completed"
        BUSY = events.CALL_BUSY, "Busy"
        NO_ANSWER = events.CALL_NO_ANSWER, "No answer"
        FAILED = events.CALL_FAILED, "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="calls")
    direction = models.CharField(max_length=3, choices=Message.Direction.choices, default=Message.Direction.OUTBOUND)
    integration = models.ForeignKey(
        OrganizationIntegration, null=True, blank=True, on_delete=models.SET_NULL, related_name="calls"
    )
    provider_name = models.CharField(max_length=64, blank=True)
    to = models.CharField(max_length=64)
    from_number = models.CharField(max_length=64, blank=True)
    twiml = models.TextField(blank=True, help_text="Call instructions, for providers that take them.")
    reference = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    provider_call_id = models.CharField(max_length=255, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    cost = models.DecimalField(max_digits=14, decimal_places=6, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    cost_source = models.CharField(max_length=16, blank=True)
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
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        db_table = "calls"
        ordering = ["-created_at"]
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


class ProviderMigration(models.Model):
    """One run of the migration wizard: from the current primary to a target integration."""

    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        CONFIGURED = "configured", "Configured"
        TESTED = "tested", "Tested"
        EXECUTING = "executing", "Executing"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        ROLLED_BACK = "rolled_back", "Rolled back"
        CANCELLED = "cancelled", "Cancelled"

    OPEN_STATES = (State.DRAFT, State.CONFIGURED, State.TESTED, State.EXECUTING)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="migrations")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    source = models.ForeignKey(
        OrganizationIntegration, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    target = models.ForeignKey(
        OrganizationIntegration, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    target_provider_name = models.CharField(max_length=64, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.DRAFT)
    progress = models.PositiveSmallIntegerField(default=0)
    log = models.JSONField(default=list, blank=True, help_text="[{at, step, outcome, detail}]")
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        db_table = "provider_migrations"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "channel"],
                condition=Q(state__in=["draft", "configured", "tested", "executing"]),
                name="migration_one_open_per_org_channel",
            ),
        ]

    def __str__(self):
        return f"Migration {self.channel} for {self.organization} ({self.state})"
