"""Reads of an organization's message templates and their per-integration mappings."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from integrations.models import MessageTemplate, Organization, TemplateMapping


def template_list(*, organization: Organization) -> QuerySet[MessageTemplate]:
    mappings = TemplateMapping.objects.select_related("integration").order_by("integration__display_name")
    return (
        MessageTemplate.objects.for_org(organization)
        .select_related("organization")
        .prefetch_related(Prefetch("mappings", queryset=mappings))
        .order_by("name", "language", "id")
    )


def template_by_name(*, organization: Organization, name: str, language: str) -> MessageTemplate | None:
    return MessageTemplate.objects.for_org(organization).filter(name=name, language=language).first()


def template_mappings(*, template: MessageTemplate) -> dict:
    """Integration id → mapping, for one template."""
    return {
        mapping.integration_id: mapping
        for mapping in TemplateMapping.objects.for_org(template.organization_id).filter(template=template)
    }
