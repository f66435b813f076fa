"""Organizations (tenants), who belongs to them, and the channels they use."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy
from encrypted_fields.fields import EncryptedCharField

from providers.values import Channel as ProviderChannel


class Channel(models.TextChoices):
    WHATSAPP = ProviderChannel.WHATSAPP.value, "WhatsApp"
    VOIP = ProviderChannel.VOIP.value, "VoIP"


def uuid_shaped(text: str) -> uuid.UUID | None:
    """The UUID ``text`` spells in any form Python reads (with or without dashes, braces or
    ``urn:uuid:``), else None. Such text names an organization by id, never by slug."""
    try:
        return uuid.UUID(str(text).strip())
    except (ValueError, TypeError, AttributeError):
        return None


class Organization(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(verbose_name=gettext_lazy("name"), max_length=200)
    slug = models.SlugField(verbose_name=gettext_lazy("slug"), max_length=80, unique=True)
    auto_failover = models.BooleanField(
        verbose_name=gettext_lazy("auto failover"),
        default=False,
        help_text=gettext_lazy("Switch to the healthiest fallback when the primary stays down."),
    )
    auto_failback = models.BooleanField(
        verbose_name=gettext_lazy("auto failback"),
        default=False,
        help_text=gettext_lazy("Switch back to the original primary once it is healthy again."),
    )
    notification_url = models.URLField(
        verbose_name=gettext_lazy("notification url"),
        blank=True,
        help_text=gettext_lazy("Receives signed JSON notifications of critical events."),
    )
    # Encrypted fields store "" as NULL, hence null=True.
    notification_secret = EncryptedCharField(max_length=200, blank=True, null=True)  # noqa: DJ001
    # Sent instead of a free-form message to a contact whose 24-hour service window is closed
    # on an official provider (docs/MESSAGING.md); without it such a message is refused.
    window_fallback_template = models.ForeignKey(
        "integrations.MessageTemplate", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text=gettext_lazy("Template sent instead of free text to a contact outside the 24-hour window."),
    )
    created_at = models.DateTimeField(verbose_name=gettext_lazy("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = gettext_lazy("organization")
        verbose_name_plural = gettext_lazy("organizations")
        db_table = "organizations"
        ordering = ["name"]

    def __str__(self):
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", gettext_lazy("Owner")
        ADMIN = "admin", gettext_lazy("Admin")
        MEMBER = "member", gettext_lazy("Member")
        VIEWER = "viewer", gettext_lazy("Viewer")

    ADMIN_ROLES = (Role.OWNER, Role.ADMIN)

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=gettext_lazy("user"), on_delete=models.CASCADE, related_name="memberships"
    )
    organization = models.ForeignKey(
        Organization, verbose_name=gettext_lazy("organization"), on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(verbose_name=gettext_lazy("role"), max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(gettext_lazy("created at"), auto_now_add=True)

    class Meta:
        verbose_name = gettext_lazy("membership")
        verbose_name_plural = gettext_lazy("memberships")
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
