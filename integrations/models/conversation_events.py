"""What contacts do besides writing messages: tap a reply button or list row, react with an
emoji; and what the platform says about them (system notices). Normalized from every provider's
webhooks (``providers.events.INTERACTIVE_REPLY``, ``REACTION``, ``SYSTEM_NOTICE``)."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy

from integrations.models.deliveries import Message
from integrations.models.integrations import OrganizationIntegration
from integrations.models.organizations import Channel, Organization, OrgScopedQuerySet
from providers import events


class ConversationEvent(models.Model):
    class Kind(models.TextChoices):
        REPLY = events.INTERACTIVE_REPLY, gettext_lazy("Reply")
        REACTION = events.REACTION, gettext_lazy("Reaction")
        SYSTEM = events.SYSTEM_NOTICE, gettext_lazy("System notice")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="conversation_events")
    integration = models.ForeignKey(OrganizationIntegration, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.WHATSAPP)
    kind = models.CharField(gettext_lazy("kind"), max_length=32, choices=Kind.choices)
    contact = models.CharField(max_length=64, blank=True, help_text="The contact's phone (E.164), when known.")
    chat_id = models.CharField(max_length=255, blank=True, help_text="The conversation as the provider names it.")
    provider_event_id = models.CharField(max_length=255, blank=True)
    # The message it answers or reacts to: ours when we sent it through this integration.
    related_provider_message_id = models.CharField(max_length=255, blank=True)
    related_message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversation_events")
    reply_kind = models.CharField(max_length=32, blank=True, help_text="button, list or template_button")
    reply_id = models.CharField(max_length=256, blank=True)
    reply_title = models.CharField(max_length=256, blank=True)
    reply_description = models.CharField(max_length=256, blank=True)
    emoji = models.CharField(max_length=32, blank=True, help_text="Empty: the reaction was removed.")
    system_type = models.CharField(max_length=64, blank=True)
    system_body = models.TextField(blank=True)
    system_new_id = models.CharField(max_length=64, blank=True)
    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        verbose_name = gettext_lazy("conversation event")
        verbose_name_plural = gettext_lazy("conversation events")
        db_table = "conversation_events"
        ordering = ["-occurred_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "kind", "provider_event_id"], condition=~Q(provider_event_id=""),
                name="conversation_event_unique_provider_id",
            ),
        ]
        indexes = [models.Index(fields=["organization", "contact", "-occurred_at"], name="conv_event_org_contact_idx")]

    def __str__(self):
        return f"{self.get_kind_display()} from {self.contact or self.chat_id}"
