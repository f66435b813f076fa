"""Writing an organization's message templates and their mappings, and importing them from a
provider (``Provider.list_templates``: Meta's ``message_templates``, Twilio's Content API).

A template is the organization's; a mapping says how one integration knows it and whether that
provider approved it. Bridges send the rendered body (``features.TEXT_FALLBACK``) and take no
mapping. An import creates the templates the organization does not have yet (name + language)
and creates or refreshes the integration's mapping of each, approval status included; it does
not rewrite a template the organization already keeps.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit import services as audit
from integrations.errors import OperationRefused
from integrations.models import (
    Channel,
    MessageTemplate,
    Organization,
    OrganizationIntegration,
    TemplateMapping,
)
from providers import features
from providers.errors import ProviderError
from providers.values import ProviderTemplate, TemplateStatus

LANGUAGE = re.compile(r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})?$")
MAX_BODY = 1024
MAX_FOOTER = 60
MAX_HEADER_TEXT = 60
MAX_BUTTONS = 10
MAX_BUTTON_TEXT = 25
HEADER_FORMATS = ("text", "image", "document", "video")
BUTTON_KINDS = ("quick_reply", "url", "phone_number", "copy_code", "other")
TEMPLATE_FIELDS = ("name", "language", "category", "body", "header", "footer", "buttons")
MAPPING_FIELDS = ("provider_template_id", "provider_template_name", "provider_language", "components",
                  "variable_names", "status", "rejection_reason")


def _clean_header(header: Any, errors: dict[str, list[str]]) -> dict[str, str]:
    if not header:
        return {}
    if not isinstance(header, Mapping) or str(header.get("format", "text")) not in HEADER_FORMATS:
        errors["header"] = [_("A header is an object with a format of text, image, document or video.")]
        return {}
    cleaned = {"format": str(header.get("format", "text")), "text": str(header.get("text", ""))}
    if len(cleaned["text"]) > MAX_HEADER_TEXT:
        errors["header"] = [_("The header text is at most %(limit)s characters.") % {"limit": MAX_HEADER_TEXT}]
    return cleaned


def _clean_buttons(buttons: Any, errors: dict[str, list[str]]) -> list[dict[str, str]]:
    if not buttons:
        return []
    if not isinstance(buttons, Sequence) or isinstance(buttons, str) or len(buttons) > MAX_BUTTONS:
        errors["buttons"] = [_("Buttons are a list of at most %(limit)s objects.") % {"limit": MAX_BUTTONS}]
        return []
    cleaned = []
    for button in buttons:
        kind = str(button.get("kind", "")) if isinstance(button, Mapping) else ""
        text = str(button.get("text", "")) if isinstance(button, Mapping) else ""
        if kind not in BUTTON_KINDS or not text or len(text) > MAX_BUTTON_TEXT:
            errors["buttons"] = [_("Every button needs a kind (quick_reply, url, phone_number, copy_code) and a text of 1-%(limit)s characters.")
                                 % {"limit": MAX_BUTTON_TEXT}]
            return []
        cleaned.append({"kind": kind, "text": text, "url": str(button.get("url", "")),
                        "phone_number": str(button.get("phone_number", ""))})
    return cleaned


def clean_template_fields(fields: Mapping[str, Any], *, require_category: bool = True) -> dict[str, Any]:
    """The template's fields checked and normalized; ``ValidationError`` (field → messages)."""
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    if "name" in fields:
        cleaned["name"] = str(fields["name"] or "").strip()
        if not cleaned["name"] or len(cleaned["name"]) > 512:
            errors["name"] = [_("A template needs a name of at most 512 characters.")]
    if "language" in fields:
        cleaned["language"] = str(fields["language"] or "").strip()
        if not LANGUAGE.match(cleaned["language"]):
            errors["language"] = [_("A language code such as en, en_US or pt_BR.")]
    if "category" in fields:
        cleaned["category"] = str(fields["category"] or "").strip().lower()
        allowed = MessageTemplate.Category.values if require_category else [*MessageTemplate.Category.values, ""]
        if cleaned["category"] not in allowed:
            errors["category"] = [_("The category is marketing, utility or authentication.")]
    if "body" in fields:
        cleaned["body"] = str(fields["body"] or "")
        if not cleaned["body"].strip() or len(cleaned["body"]) > MAX_BODY:
            errors["body"] = [_("A template needs a body of at most %(limit)s characters.") % {"limit": MAX_BODY}]
    if "header" in fields:
        cleaned["header"] = _clean_header(fields["header"], errors)
    if "footer" in fields:
        cleaned["footer"] = str(fields["footer"] or "")
        if len(cleaned["footer"]) > MAX_FOOTER:
            errors["footer"] = [_("The footer is at most %(limit)s characters.") % {"limit": MAX_FOOTER}]
    if "buttons" in fields:
        cleaned["buttons"] = _clean_buttons(fields["buttons"], errors)
    if errors:
        raise ValidationError(errors)
    return cleaned


def _duplicate() -> ValidationError:
    return ValidationError({"name": [_("This organization already has a template with this name and language.")]})


def _snapshot(template: MessageTemplate) -> dict[str, Any]:
    return {name: getattr(template, name) for name in ("name", "language", "category")}


def template_create(*, organization: Organization, actor: Any, **fields: Any) -> MessageTemplate:
    missing = {name: [_("This field is required.")] for name in ("name", "language", "category", "body") if name not in fields}
    if missing:
        raise ValidationError(missing)
    cleaned = clean_template_fields({name: fields[name] for name in TEMPLATE_FIELDS if name in fields})
    try:
        with transaction.atomic():
            template = MessageTemplate.objects.create(organization=organization, **cleaned)
            audit.record(action="template.created", actor=actor, organization=organization, target=template,
                         after=_snapshot(template))
    except IntegrityError:
        raise _duplicate() from None
    return template


def template_update(*, template: MessageTemplate, actor: Any, **fields: Any) -> MessageTemplate:
    cleaned = clean_template_fields({name: fields[name] for name in TEMPLATE_FIELDS if name in fields})
    before = _snapshot(template)
    for name, value in cleaned.items():
        setattr(template, name, value)
    try:
        with transaction.atomic():
            template.save()
            audit.record(action="template.updated", actor=actor, organization=template.organization, target=template,
                         before=before, after=_snapshot(template))
    except IntegrityError:
        raise _duplicate() from None
    return template


def template_delete(*, template: MessageTemplate, actor: Any) -> None:
    with transaction.atomic():
        audit.record(action="template.deleted", actor=actor, organization=template.organization, target=template,
                     before=_snapshot(template))
        template.delete()


def _check_mappable(integration: OrganizationIntegration) -> None:
    provider_class = integration.provider_class()
    if integration.channel != Channel.WHATSAPP or not provider_class.supports(features.TEMPLATES):
        raise ValidationError({"integration": [_("%(name)s cannot send templates.") % {"name": integration.display_name}]})
    if provider_class.supports(features.TEXT_FALLBACK):
        raise ValidationError({"integration": [
            _("%(name)s sends templates as their text; it needs no mapping.") % {"name": integration.display_name}]})


def _clean_mapping(fields: Mapping[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    cleaned = {name: fields[name] for name in MAPPING_FIELDS if name in fields}
    if "status" in cleaned and cleaned["status"] not in TemplateMapping.Status.values:
        errors["status"] = [_("Unknown approval status.")]
    components = cleaned.get("components", [])
    if not isinstance(components, list) or not all(isinstance(item, Mapping) for item in components):
        errors["components"] = [_("Components are a list of objects.")]
    names = cleaned.get("variable_names", {})
    if not isinstance(names, Mapping) or not all(isinstance(v, str) for v in names.values()):
        errors["variable_names"] = [_("Variable names map our names to the provider's, as text.")]
    if errors:
        raise ValidationError(errors)
    return cleaned


def template_map(*, template: MessageTemplate, integration: OrganizationIntegration, actor: Any,
                 **fields: Any) -> TemplateMapping:
    """Create or change how ``integration`` knows ``template``. A mapping set by hand is
    approved unless ``status`` says otherwise; an import refreshes it from the provider."""
    if integration.organization_id != template.organization_id:
        raise ValidationError({"integration": [_("No such integration.")]})
    _check_mappable(integration)
    cleaned = _clean_mapping(fields)
    with transaction.atomic():
        mapping, created = TemplateMapping.objects.update_or_create(
            organization_id=template.organization_id, template=template, integration=integration, defaults=cleaned,
        )
        audit.record(action="template.mapped", actor=actor, organization=template.organization, target=template,
                     after={"integration": str(integration.pk), "status": mapping.status, "created": created})
    return mapping


def template_unmap(*, mapping: TemplateMapping, actor: Any) -> None:
    with transaction.atomic():
        audit.record(action="template.unmapped", actor=actor, organization=mapping.template.organization,
                     target=mapping.template, before={"integration": str(mapping.integration_id), "status": mapping.status})
        mapping.delete()


@dataclass(frozen=True)
class ImportResult:
    read: int
    created_templates: int
    mappings: int
    approved: int


def _template_fields(found: ProviderTemplate) -> dict[str, Any]:
    category = found.category.lower() if found.category.lower() in MessageTemplate.Category.values else ""
    header = {"format": found.header_format or "text", "text": found.header[:MAX_HEADER_TEXT]} \
        if (found.header or found.header_format) and (found.header_format or "text") in HEADER_FORMATS else {}
    buttons = [{"kind": b.kind if b.kind in BUTTON_KINDS else "other", "text": b.text[:MAX_BUTTON_TEXT], "url": b.url,
                "phone_number": b.phone_number} for b in found.buttons[:MAX_BUTTONS] if b.text]
    return {"category": category, "body": found.body[:MAX_BODY], "header": header, "footer": found.footer[:MAX_FOOTER],
            "buttons": buttons}


def templates_import(*, integration: OrganizationIntegration, actor: Any, max_pages: int = 10) -> ImportResult:
    """Read the integration's templates from its provider and keep them (see the module doc).

    ``OperationRefused`` when the provider cannot list templates or the request failed (its
    message is the adapter's, bounded and scrubbed of credentials).
    """
    provider_class = integration.provider_class()
    if not provider_class.supports(features.TEMPLATE_IMPORT):
        raise OperationRefused(_("%(name)s cannot list its templates.") % {"name": integration.display_name}, code="unsupported")
    try:
        found = integration.adapter().list_templates(max_pages=max_pages)
    except ProviderError as exc:
        raise OperationRefused(_("The templates could not be read: %(reason)s") % {"reason": exc.message},
                               code=exc.code or "provider_error") from None
    now = timezone.now()
    created = mapped = approved = 0
    with transaction.atomic():
        for item in found:
            if not item.name or not item.language or not LANGUAGE.match(item.language):
                continue
            template, was_created = MessageTemplate.objects.get_or_create(
                organization_id=integration.organization_id, name=item.name[:512], language=item.language,
                defaults=_template_fields(item),
            )
            created += was_created
            TemplateMapping.objects.update_or_create(
                organization_id=integration.organization_id, template=template, integration=integration,
                defaults={
                    "provider_template_id": item.provider_template_id[:255],
                    "status": item.status.value if item.status in TemplateStatus else TemplateStatus.UNKNOWN.value,
                    "rejection_reason": item.rejection_reason[:2000],
                    "synced_at": now,
                },
            )
            mapped += 1
            approved += item.approved
        result = ImportResult(read=len(found), created_templates=created, mappings=mapped, approved=approved)
        audit.record(action="template.imported", actor=actor, organization=integration.organization, target=integration,
                     after={"read": result.read, "created_templates": created, "mappings": mapped, "approved": approved})
    return result
