"""Routing policies of a channel, per organization: how traffic is shared beyond one primary.

The primary stays the anchor (the database keeps exactly one); a policy only changes the order in
which a message tries the channel's active integrations (``services/policies/selection.py``).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

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
    version = models.PositiveIntegerField(default=1)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        db_table = "channel_policies"
        constraints = [
            models.UniqueConstraint(fields=["organization", "channel"], name="channel_policy_one_per_org_channel"),
        ]

    def __str__(self):
        return f"{self.channel} policy ({self.mode}, v{self.version})"

    def snapshot(self) -> dict:
        return {"mode": self.mode, "weights": dict(self.weights or {}), "rules": list(self.rules or []),
                "version": self.version}
