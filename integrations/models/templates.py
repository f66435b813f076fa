"""An organization's message templates and how each integration names them.

A template is provider-neutral (name, language, category, a body with ``{{…}}`` variables,
an optional header, footer and buttons). Official providers only send templates they approved,
under their own name: a ``TemplateMapping`` says how one integration knows the template (Meta:
name + language + components; Twilio: the Content SID) and its approval status there. Bridges
(``providers.features.TEXT_FALLBACK``) need no mapping: they send the rendered body.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy

from integrations.models.integrations import OrganizationIntegration
from integrations.models.organizations import Organization, OrgScopedQuerySet
from providers.values import TemplateCategory, TemplateStatus


class MessageTemplate(models.Model):
    class Category(models.TextChoices):
        MARKETING = TemplateCategory.MARKETING.value, gettext_lazy("Marketing")
        UTILITY = TemplateCategory.UTILITY.value, gettext_lazy("Utility")
        AUTHENTICATION = TemplateCategory.AUTHENTICATION.value, gettext_lazy("Authentication")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="message_templates")
    name = models.CharField(max_length=512)
    language = models.CharField(gettext_lazy("language"), max_length=16, help_text="As the providers name it: en_US, pt_BR.")
    # Blank only for a template imported from a provider that did not state one; the API
    # requires it. It prices every message sent with the template.
    category = models.CharField(gettext_lazy("category"), max_length=16, choices=Category.choices, blank=True)
    body = models.TextField(help_text="Text with {{1}} or {{name}} placeholders.")
    header = models.JSONField(default=dict, blank=True, help_text='{"format": "text|image|document|video", "text": "…"}')
    footer = models.CharField(max_length=60, blank=True)
    buttons = models.JSONField(default=list, blank=True, help_text='[{"kind": "quick_reply|url|phone_number", "text", "url", "phone_number"}]')
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        verbose_name = gettext_lazy("message template")
        verbose_name_plural = gettext_lazy("message templates")
        db_table = "message_templates"
        ordering = ["name", "language"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name", "language"], name="template_unique_name_language"),
        ]

    def __str__(self):
        return f"{self.name} ({self.language})"


class TemplateMapping(models.Model):
    class Status(models.TextChoices):
        APPROVED = TemplateStatus.APPROVED.value, gettext_lazy("Approved")
        PENDING = TemplateStatus.PENDING.value, gettext_lazy("Pending")
        REJECTED = TemplateStatus.REJECTED.value, gettext_lazy("Rejected")
        PAUSED = TemplateStatus.PAUSED.value, gettext_lazy("Paused")
        DISABLED = TemplateStatus.DISABLED.value, gettext_lazy("Disabled")
        UNSUBMITTED = TemplateStatus.UNSUBMITTED.value, gettext_lazy("Unsubmitted")
        UNKNOWN = TemplateStatus.UNKNOWN.value, gettext_lazy("Unknown")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="template_mappings")
    template = models.ForeignKey(MessageTemplate, on_delete=models.CASCADE, related_name="mappings")
    integration = models.ForeignKey(OrganizationIntegration, on_delete=models.CASCADE, related_name="template_mappings")
    # Twilio: the Content SID (HX…) a send names; Meta: the template's id (informational).
    provider_template_id = models.CharField(max_length=255, blank=True)
    # The name and language the provider knows it by, when they differ from the template's.
    provider_template_name = models.CharField(max_length=512, blank=True)
    provider_language = models.CharField(max_length=16, blank=True)
    components = models.JSONField(default=list, blank=True, help_text="Meta components sent as they are, when set.")
    variable_names = models.JSONField(default=dict, blank=True, help_text="Our variable name → the provider's placeholder.")
    status = models.CharField(max_length=16, choices=Status.choices, default=TemplateStatus.APPROVED.value)
    rejection_reason = models.TextField(blank=True)
    synced_at = models.DateTimeField(null=True, blank=True, help_text="Last read from the provider (import).")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        verbose_name = gettext_lazy("template mapping")
        verbose_name_plural = gettext_lazy("template mappings")
        db_table = "template_mappings"
        ordering = ["template", "integration"]
        constraints = [
            models.UniqueConstraint(fields=["template", "integration"], name="template_mapping_unique_integration"),
        ]

    def __str__(self):
        return f"{self.template} on {self.integration} ({self.status})"

    @property
    def approved(self) -> bool:
        return self.status == TemplateStatus.APPROVED.value


class InteractiveContent(models.Model):
    """A provider resource created to send one interactive message, reused for every identical
    message on the same integration (Twilio creates a Content for each quick-reply or list it
    sends; ``SendResult.raw["content_sid"]``). ``digest`` is the message's SHA-256."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    integration = models.ForeignKey(OrganizationIntegration, on_delete=models.CASCADE, related_name="+")
    digest = models.CharField(max_length=64)
    provider_content_id = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        db_table = "interactive_contents"
        verbose_name = gettext_lazy("interactive content")
        verbose_name_plural = gettext_lazy("interactive contents")
        constraints = [
            models.UniqueConstraint(fields=["integration", "digest"], name="interactive_content_unique_digest"),
        ]

    def __str__(self):
        return self.provider_content_id
