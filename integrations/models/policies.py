"""Routing policies of a channel, per organization: how traffic is shared beyond one primary.

The primary stays the anchor (the database keeps exactly one); a policy only changes the order in
which a message tries the channel's active integrations (``services/policies/selection.py``).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy

from integrations.models.organizations import Channel, Organization, OrgScopedQuerySet


class ChannelPolicy(models.Model):
    """How one (organization, channel) shares its traffic.

    ``weights``: integration id → percent (sum 100) when ``mode`` is ``split``.
    ``rules``: ``[{"tag": "...", "integration_id": "..."}]``, matched against the message's tags
    before the weights, first match wins. ``version`` grows with every change; it seeds the
    per-contact pick, so a contact keeps its sender while the weights hold.
    """

    class Mode(models.TextChoices):
        PRIMARY = "primary", "Primary, then fallbacks by priority"
        SPLIT = "split", "Weighted split"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="channel_policies")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.PRIMARY)
    weights = models.JSONField(default=dict, blank=True)
    rules = models.JSONField(default=list, blank=True)
    # Provider error code → "retry" (later, same route, no fail-over), "fail_over" (the next
    # integration now) or "stop" (fail the message): overrides delivery's default per code.
    failure_actions = models.JSONField(default=dict, blank=True)
    version = models.PositiveIntegerField(default=1)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        db_table = "channel_policies"
        verbose_name = gettext_lazy("channel policy")
        verbose_name_plural = gettext_lazy("channel policies")
        constraints = [
            models.UniqueConstraint(fields=["organization", "channel"], name="channel_policy_one_per_org_channel"),
        ]

    def __str__(self):
        return f"{self.channel} policy ({self.mode}, v{self.version})"

    def snapshot(self) -> dict:
        return {"mode": self.mode, "weights": dict(self.weights or {}), "rules": list(self.rules or []),
                "failure_actions": dict(self.failure_actions or {}), "version": self.version}


class ScheduledSwitch(models.Model):
    """A switch of the primary at a given time, run once by beat through ``switch_primary``."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"
        REFUSED = "refused", "Refused"
        CANCELLED = "cancelled", "Cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="scheduled_switches")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    target = models.ForeignKey("integrations.OrganizationIntegration", null=True, on_delete=models.SET_NULL, related_name="+")
    # Kept beside the FK so the history reads after the integration is deleted.
    target_name = models.CharField(max_length=120)
    at = models.DateTimeField()
    reason = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    detail = models.TextField(blank=True, help_text="Why it was refused, or what it did.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        db_table = "scheduled_switches"
        verbose_name = gettext_lazy("scheduled switch")
        verbose_name_plural = gettext_lazy("scheduled switches")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["status", "at"], name="scheduled_switch_due_idx")]

    def __str__(self):
        return f"{self.channel} switch to {self.target_name} at {self.at:%Y-%m-%d %H:%M} UTC ({self.status})"

    def snapshot(self) -> dict:
        return {"id": str(self.pk), "channel": self.channel, "target": str(self.target_id or ""),
                "target_name": self.target_name, "at": self.at.isoformat(), "status": self.status,
                "detail": self.detail}


class Rollout(models.Model):
    """Moving a channel's traffic to ``target`` in steps (percent shares), each held for
    ``step_seconds`` while the target's failure rate stays at or under ``max_failure_rate``; a
    breach rolls the share back to 0, the last step switches the primary."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        ROLLED_BACK = "rolled_back", "Rolled back"
        CANCELLED = "cancelled", "Cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="rollouts")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    target = models.ForeignKey("integrations.OrganizationIntegration", null=True, on_delete=models.SET_NULL, related_name="+")
    source = models.ForeignKey("integrations.OrganizationIntegration", null=True, on_delete=models.SET_NULL, related_name="+")
    target_name = models.CharField(max_length=120)
    steps = models.JSONField(help_text="Shares in percent, increasing, ending at 100.")
    step_seconds = models.PositiveIntegerField()
    max_failure_rate = models.FloatField()
    min_sample = models.PositiveIntegerField(default=20, help_text="Attempts a step needs before its failure rate counts.")
    # Receipt-aware guard (messages only): a message the target sent this step that has no
    # delivered/read receipt this many seconds later counts as a failure. Null: receipts not judged.
    receipt_timeout_seconds = models.PositiveIntegerField(null=True, blank=True)
    step_index = models.PositiveSmallIntegerField(default=0)
    step_started_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    detail = models.TextField(blank=True)
    log = models.JSONField(default=list, blank=True, help_text="[{at, share, event, failure_rate, attempts}]")
    prior_policy = models.JSONField(null=True, blank=True, help_text="The policy to restore when it ends.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        db_table = "rollouts"
        verbose_name = gettext_lazy("rollout")
        verbose_name_plural = gettext_lazy("rollouts")
        ordering = ["-created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "channel"], condition=models.Q(status="running"),
                name="rollout_one_running_per_org_channel",
            ),
        ]

    def __str__(self):
        return f"{self.channel} rollout to {self.target_name} ({self.status})"

    @property
    def share(self) -> int:
        """The target's current share in percent."""
        return self.steps[self.step_index] if self.status == self.Status.RUNNING else (
            100 if self.status == self.Status.COMPLETED else 0)

    def snapshot(self) -> dict:
        return {"id": str(self.pk), "channel": self.channel, "target": str(self.target_id or ""),
                "target_name": self.target_name, "steps": self.steps, "step_index": self.step_index,
                "share": self.share, "status": self.status, "detail": self.detail}


class SpendCap(models.Model):
    """A monthly budget for one integration: once its month-to-date cost (in ``currency``)
    reaches ``monthly_budget``, routing skips it like an open breaker until the month ends or the
    budget is raised. ``notified_percent`` is the highest threshold (80, 100) already notified
    in ``month``."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="spend_caps")
    integration = models.OneToOneField("integrations.OrganizationIntegration", on_delete=models.CASCADE,
                                       related_name="spend_cap")
    monthly_budget = models.DecimalField(max_digits=14, decimal_places=6)
    currency = models.CharField(max_length=3)
    month = models.DateField(null=True, blank=True)
    spent = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    notified_percent = models.PositiveSmallIntegerField(default=0)
    reached = models.BooleanField(default=False)
    evaluated_at = models.DateTimeField(null=True, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        db_table = "spend_caps"
        verbose_name = gettext_lazy("spend cap")
        verbose_name_plural = gettext_lazy("spend caps")

    def __str__(self):
        return f"{self.monthly_budget} {self.currency} a month"

    def snapshot(self) -> dict:
        return {"integration": str(self.integration_id), "monthly_budget": str(self.monthly_budget),
                "currency": self.currency, "reached": self.reached}
