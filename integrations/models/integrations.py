"""An organization's provider integrations: one row per connected provider account."""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from encrypted_fields.fields import EncryptedCharField, EncryptedJSONField

from integrations.models.organizations import Channel, Organization, OrgScopedQuerySet
from providers.base import Provider


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
        PENDING = "pending", gettext_lazy("Pending (configured, not yet tested)")
        ACTIVE = "active", gettext_lazy("Active")
        INACTIVE = "inactive", gettext_lazy("Inactive")
        ERROR = "error", gettext_lazy("Error")

    class Health(models.TextChoices):
        UNKNOWN = "unknown", gettext_lazy("Unknown")
        HEALTHY = "healthy", gettext_lazy("Healthy")
        DEGRADED = "degraded", gettext_lazy("Degraded")
        DOWN = "down", gettext_lazy("Down")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, verbose_name=gettext_lazy("organization"), on_delete=models.CASCADE, related_name="integrations"
    )
    channel = models.CharField(verbose_name=gettext_lazy("channel"), max_length=16, choices=Channel.choices)
    provider_name = models.CharField(verbose_name=gettext_lazy("provider name"), max_length=64)
    display_name = models.CharField(verbose_name=gettext_lazy("display name"), max_length=120)
    status = models.CharField(
        verbose_name=gettext_lazy("status"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    credentials = EncryptedJSONField(default=dict, blank=True)
    webhook_secret = EncryptedCharField(max_length=200, default=generate_webhook_secret)
    config = models.JSONField(default=dict, blank=True)
    is_primary = models.BooleanField(verbose_name=gettext_lazy("is primary"), default=False)
    priority = models.IntegerField(
        verbose_name=gettext_lazy("priority"), default=0, help_text=gettext_lazy("Fallback order: higher goes first.")
    )

    health_status = models.CharField(
        verbose_name=gettext_lazy("health status"), max_length=16, choices=Health.choices, default=Health.UNKNOWN
    )
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
        verbose_name = gettext_lazy("organization integration")
        verbose_name_plural = gettext_lazy("organization integrations")
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

    def primary_refusal(self, now=None) -> str | None:
        """Why this integration cannot become primary now, or None when it can."""
        if self.status != self.Status.ACTIVE:
            return _(
                "'%(name)s' is %(status)s; only an active integration can be primary. Test its "
                "connection and activate it first."
            ) % {"name": self.display_name, "status": str(self.get_status_display()).lower()}
        if self.breaker_is_open(now):
            return _(
                "'%(name)s' is failing (circuit breaker open until %(until)s UTC); wait for it to recover."
            ) % {"name": self.display_name, "until": f"{self.breaker_open_until:%H:%M:%S}"}
        return None

    def can_be_primary(self, now=None) -> bool:
        return self.primary_refusal(now) is None

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
