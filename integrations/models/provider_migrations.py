"""A run of the migration wizard: moving a channel's primary to another integration."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy

from integrations.models.integrations import OrganizationIntegration
from integrations.models.organizations import Channel, Organization, OrgScopedQuerySet


class ProviderMigration(models.Model):
    """One run of the migration wizard: from the current primary to a target integration."""

    class State(models.TextChoices):
        DRAFT = "draft", gettext_lazy("Draft")
        CONFIGURED = "configured", gettext_lazy("Configured")
        TESTED = "tested", gettext_lazy("Tested")
        EXECUTING = "executing", gettext_lazy("Executing")
        COMPLETED = "completed", gettext_lazy("Completed")
        FAILED = "failed", gettext_lazy("Failed")
        ROLLED_BACK = "rolled_back", gettext_lazy("Rolled back")
        CANCELLED = "cancelled", gettext_lazy("Cancelled")

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
