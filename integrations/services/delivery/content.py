"""What a message carries beyond free text: the template rules of intake and of sending.

Intake (``clean_template``) finds the organization's template by name and language and checks
the variables fill its body. At send time (``send_plan``) a template send goes only through
integrations that can carry it — an approved mapping on an official provider, or a bridge that
sends the rendered text — and each of them gets the template as it names it
(``outbound_for``). When the route has integrations but none can carry the template, the
message fails with ``template_unavailable`` rather than waiting for one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from integrations.models import MessageTemplate, Organization, OrganizationIntegration
from integrations.selectors.templates import template_by_name, template_mappings
from providers import features
from providers.content import MAX_REPLY_ID
from providers.values import OutboundMessage, TemplateMapping, TemplateMessage, placeholders, render

MAX_VARIABLES = 100
MAX_VARIABLE_LENGTH = 1024


def clean_template(*, organization: Organization, template: Any) -> tuple[MessageTemplate, dict[str, str]]:
    """``{"name", "language", "variables"}`` → (the template, its variables as text).
    ``ValidationError`` on the ``template`` field otherwise."""
    if not isinstance(template, Mapping):
        raise ValidationError({"template": [_("A template is an object with a name, a language and variables.")]})
    name, language = str(template.get("name") or ""), str(template.get("language") or "")
    variables = template.get("variables") or {}
    if not isinstance(variables, Mapping) or len(variables) > MAX_VARIABLES or not all(
        isinstance(value, str | int | float) and not isinstance(value, bool) and len(str(value)) <= MAX_VARIABLE_LENGTH
        and len(str(key)) <= MAX_REPLY_ID for key, value in variables.items()
    ):
        raise ValidationError({"template": [_("Template variables map names to texts of at most %(limit)s characters.")
                                            % {"limit": MAX_VARIABLE_LENGTH}]})
    found = template_by_name(organization=organization, name=name, language=language) if name and language else None
    if found is None:
        raise ValidationError({"template": [_("No template named '%(name)s' in language '%(language)s'.")
                                            % {"name": name[:100], "language": language[:16]}]})
    cleaned = {str(key): str(value) for key, value in variables.items()}
    try:
        render(found.body, cleaned)
    except ValueError:
        missing = [name for name in placeholders(found.body) if name not in cleaned]
        raise ValidationError({"template": [_("Missing template variable(s): %(names)s.") % {"names": ", ".join(missing)}]}) from None
    return found, cleaned


def can_carry(integration: OrganizationIntegration, mapping: Any) -> bool:
    """Whether this integration may send this template: a bridge always (rendered text, no
    approval exists there), an official provider only with an approved mapping."""
    provider_class = integration.provider_class()
    if not provider_class.supports(features.TEMPLATES):
        return False
    if provider_class.supports(features.TEXT_FALLBACK):
        return True
    return mapping is not None and mapping.approved


@dataclass(frozen=True)
class SendPlan:
    """A template send's template and its mappings (integration id → mapping); ``template``
    is None when the template was deleted after intake."""

    template: MessageTemplate | None
    variables: Mapping[str, str]
    mappings: Mapping[Any, Any] = field(default_factory=dict)


def send_plan(row: Any) -> SendPlan | None:
    """None for anything but a template send (calls, free text)."""
    if getattr(row, "template_variables", None) is None:
        return None
    template = row.template if row.template_id else None
    mappings = template_mappings(template=template) if template is not None else {}
    return SendPlan(template=template, variables=row.template_variables, mappings=mappings)


def route_for(plan: SendPlan | None, route: list[OrganizationIntegration]) -> tuple[list[OrganizationIntegration], str]:
    """(the integrations of ``route`` that can carry the send, why none can or "")."""
    if plan is None or not route:
        return route, ""
    if plan.template is None:
        return [], _("The template was deleted before the message was sent.")
    carriers = [integration for integration in route if can_carry(integration, plan.mappings.get(integration.pk))]
    if carriers:
        return carriers, ""
    return [], _("Template '%(name)s' (%(language)s) is not approved on any active integration of the channel.") % {
        "name": plan.template.name, "language": plan.template.language}


def outbound_for(plan: SendPlan | None, outbound: OutboundMessage, integration: OrganizationIntegration) -> OutboundMessage:
    """The message as this integration sends it: the template under the integration's names."""
    if plan is None or plan.template is None:
        return outbound
    template, mapping = plan.template, plan.mappings.get(integration.pk)
    provider_mapping = TemplateMapping(
        name=mapping.provider_template_name, language=mapping.provider_language,
        components=tuple(mapping.components or ()), content_sid=mapping.provider_template_id,
        variable_names=dict(mapping.variable_names or {}),
    ) if mapping is not None else TemplateMapping()
    return replace(outbound, body="", template=TemplateMessage(
        name=template.name, language=template.language, variables=dict(plan.variables), text=template.body,
        category=template.category, mapping=provider_mapping,
    ))
