"""Templates: the organization's templates, their mappings, the import, and a template send
going only where the template is approved (real PostgreSQL; the sandbox provider)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from audit.models import AuditEvent
from integrations.errors import OperationRefused
from integrations.models import Message, MessageTemplate, TemplateMapping
from integrations.services import templates
from integrations.services.delivery import dispatch, intake
from providers import sandbox
from tests.factories import make_integration

TO = "+5491155550000"
PRICED = {"pricing": {"category_prices": {"marketing": "0.0625", "utility": "0.008"}}}


def order_update(organization, **fields):
    return templates.template_create(
        organization=organization, actor="system:test", name="order_update", language="pt_BR", category="utility",
        body="Olá {{1}}, seu pedido {{2}} foi enviado.", **fields,
    )


def send_template(organization, variables=None, **template):
    message, _ = intake.send_message(
        organization=organization, channel="whatsapp", to=TO, body="", actor="system:test",
        template={"name": "order_update", "language": "pt_BR", "variables": variables or {"1": "Ana", "2": "A-7"}, **template},
    )
    return message


@pytest.mark.django_db
def test_create_checks_fields_and_refuses_a_duplicate_name_and_language(organization):
    template = order_update(organization, header={"format": "text", "text": "Pedido"}, buttons=[{"kind": "quick_reply", "text": "Rastrear"}])
    assert template.header == {"format": "text", "text": "Pedido"}
    assert template.buttons[0]["kind"] == "quick_reply"
    with pytest.raises(ValidationError) as duplicate:
        order_update(organization)
    assert "name" in duplicate.value.message_dict
    with pytest.raises(ValidationError) as invalid:
        templates.template_create(organization=organization, actor="system:test", name="x", language="portuguese!",
                                  category="promo", body=" ", buttons=[{"kind": "quick_reply", "text": "x" * 26}])
    assert set(invalid.value.message_dict) == {"language", "category", "body", "buttons"}
    assert AuditEvent.objects.filter(action="template.created", organization=organization).count() == 1


@pytest.mark.django_db
def test_a_template_send_stores_the_rendered_body_category_and_variables(organization):
    order_update(organization)
    message = send_template(organization)
    assert message.body == "Olá Ana, seu pedido A-7 foi enviado."
    assert message.category == "utility" and message.template_variables == {"1": "Ana", "2": "A-7"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("template", "body", "expected"),
    [
        ({"name": "nope", "language": "pt_BR"}, "", "No template named 'nope'"),
        ({"name": "order_update", "language": "en_US"}, "", "No template named 'order_update'"),
        ({"name": "order_update", "language": "pt_BR", "variables": {"1": "Ana"}}, "", "Missing template variable(s): 2."),
        ({"name": "order_update", "language": "pt_BR", "variables": {"1": "Ana", "2": "x"}}, "hello", "Send one of"),
    ],
)
def test_intake_refuses_an_unknown_template_missing_variables_or_a_body_too(organization, template, body, expected):
    order_update(organization)
    with pytest.raises(ValidationError) as refused:
        intake.send_message(organization=organization, channel="whatsapp", to=TO, body=body, actor="system:test", template=template)
    assert expected in refused.value.message_dict["template"][0]
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_another_organizations_template_is_not_found(organization, other_organization):
    order_update(other_organization)
    with pytest.raises(ValidationError):
        send_template(organization)


@pytest.mark.django_db
def test_the_send_goes_to_the_integration_where_the_template_is_approved_under_its_names(organization):
    primary = make_integration(organization=organization, display_name="Primary", config={"label": "p"})
    approved = make_integration(organization=organization, display_name="Approved", config={"label": "a", **PRICED})
    template = order_update(organization)
    templates.template_map(template=template, integration=primary, actor="system:test", status="pending")
    templates.template_map(template=template, integration=approved, actor="system:test",
                           provider_template_name="order_update_v2", provider_language="pt_BR")
    message = send_template(organization)

    outcome = dispatch.deliver_message(message_id=message.pk)

    message.refresh_from_db()
    assert outcome.status == dispatch.DELIVERED and message.integration_id == approved.pk
    assert [a["integration"] for a in message.attempts] == [str(approved.pk)]  # the pending one is not tried
    assert sandbox.outbox[0]["label"] == "a"
    assert sandbox.outbox[0]["template"] == {"name": "order_update", "language": "pt_BR", "variables": {"1": "Ana", "2": "A-7"},
                                              "category": "utility"}
    assert sandbox.outbox[0]["body"] == "Olá Ana, seu pedido A-7 foi enviado."
    # The template's category prices the message (the catalog's utility price, not the base one).
    assert (message.cost, message.cost_source) == (Decimal("0.008"), "catalog")


@pytest.mark.django_db
def test_without_an_approved_mapping_the_message_fails_template_unavailable(organization):
    integration = make_integration(organization=organization, config={"label": "p"})
    meta = make_integration(organization=organization, provider_name="meta_cloud", config={"phone_number_id": "1"},
                            credentials={"access_token": "t" * 10, "app_secret": "s" * 10})
    template = order_update(organization)
    templates.template_map(template=template, integration=integration, actor="system:test", status="rejected")
    templates.template_map(template=template, integration=meta, actor="system:test", status="paused")
    message = send_template(organization)

    outcome = dispatch.deliver_message(message_id=message.pk)

    message.refresh_from_db()
    assert outcome.status == dispatch.FAILED
    assert message.status == Message.Status.FAILED and message.error_code == "template_unavailable"
    assert "order_update" in message.error and message.retry_count == 0
    assert sandbox.outbox == []


@pytest.mark.django_db
def test_a_template_deleted_after_intake_fails_the_message(organization):
    make_integration(organization=organization)
    template = order_update(organization)
    message = send_template(organization)
    templates.template_delete(template=template, actor="system:test")
    dispatch.deliver_message(message_id=message.pk)
    message.refresh_from_db()
    assert message.template_id is None and message.error_code == "template_unavailable"


@pytest.mark.django_db
def test_a_bridge_needs_no_mapping_and_takes_none(organization):
    bridge = make_integration(organization=organization, provider_name="whatsapp_web",
                              config={"base_url": "http://127.0.0.1:9/"}, credentials={"api_key": "k" * 12})
    template = order_update(organization)
    with pytest.raises(ValidationError) as refused:
        templates.template_map(template=template, integration=bridge, actor="system:test")
    assert "needs no mapping" in refused.value.message_dict["integration"][0]
    from integrations.services.delivery import content

    assert content.can_carry(bridge, None) is True


@pytest.mark.django_db
def test_a_mapping_cannot_cross_organizations_or_channels(organization, other_organization):
    template = order_update(organization)
    theirs = make_integration(organization=other_organization)
    voip = make_integration(organization=organization, provider_name="sandbox_voip")
    with pytest.raises(ValidationError):
        templates.template_map(template=template, integration=theirs, actor="system:test")
    with pytest.raises(ValidationError):
        templates.template_map(template=template, integration=voip, actor="system:test")
    assert not TemplateMapping.objects.exists()


@pytest.mark.django_db
def test_import_creates_templates_and_refreshes_mappings_with_approval(organization):
    integration = make_integration(organization=organization, config={"template_status": "pending"})
    mine = order_update(organization)  # the organization's own wording is kept

    first = templates.templates_import(integration=integration, actor="system:test")

    assert (first.read, first.created_templates, first.mappings, first.approved) == (3, 2, 3, 0)
    mine.refresh_from_db()
    assert mine.body == "Olá {{1}}, seu pedido {{2}} foi enviado."
    welcome = MessageTemplate.objects.get(organization=organization, name="welcome_offer")
    assert welcome.category == "marketing" and welcome.body.startswith("Welcome {{1}}")
    mapping = TemplateMapping.objects.get(template=mine, integration=integration)
    assert (mapping.status, mapping.provider_template_id) == ("pending", "sbx-tpl-order-update")
    assert mapping.synced_at is not None

    integration.config = {"template_status": "approved"}
    integration.save(update_fields=["config"])
    second = templates.templates_import(integration=integration, actor="system:test")
    assert (second.created_templates, second.approved) == (0, 3)
    assert TemplateMapping.objects.filter(integration=integration, status="approved").count() == 3


@pytest.mark.django_db
def test_import_from_a_provider_without_template_listing_is_refused(organization):
    bridge = make_integration(organization=organization, provider_name="whatsapp_web",
                              config={"base_url": "http://127.0.0.1:9/"}, credentials={"api_key": "k" * 12})
    with pytest.raises(OperationRefused) as refused:
        templates.templates_import(integration=bridge, actor="system:test")
    assert refused.value.code == "unsupported"


@pytest.mark.django_db
def test_the_import_command_reports_what_it_kept(organization):
    from io import StringIO

    from django.core.management import CommandError, call_command

    make_integration(organization=organization, display_name="Sandbox WA")
    out = StringIO()
    call_command("import_templates", "--org", organization.slug, "--integration", "Sandbox WA", stdout=out)
    assert "3 read, 3 new templates, 3 mappings (3 approved)" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("import_templates", "--org", organization.slug, "--integration", "nope")


@pytest.mark.django_db
def test_a_media_header_and_button_values_reach_the_provider_payload(organization):
    from integrations.services.delivery import content
    from providers.whatsapp.meta_payloads import template_object

    meta = make_integration(organization=organization, provider_name="meta_cloud", config={"phone_number_id": "1"},
                            credentials={"access_token": "t" * 12, "app_secret": "s" * 12})
    template = templates.template_create(
        organization=organization, actor="system:test", name="receipt", language="en", category="utility",
        body="Hi {{1}}, your receipt.", header={"format": "document"}, buttons=[{"kind": "url", "text": "Track"}])
    templates.template_map(template=template, integration=meta, actor="system:test")
    send = {"name": "receipt", "language": "en", "variables": {"1": "Ana"}}
    with pytest.raises(ValidationError) as refused:
        intake.send_message(organization=organization, channel="whatsapp", to=TO, body="", actor="system:test", template=send)
    assert "media_url" in refused.value.message_dict["template"][0]

    message, _ = intake.send_message(organization=organization, channel="whatsapp", to=TO, body="", actor="system:test", template={
        **send, "header": {"media_url": "https://example.com/r.pdf", "filename": "r.pdf"},
        "buttons": [{"index": 0, "kind": "url", "value": "A-7"}]})
    assert message.template_parameters["header"]["media_kind"] == "document"

    from providers.values import OutboundMessage

    outbound = content.outbound_for(content.send_plan(message), OutboundMessage(to=TO, body=message.body), meta)
    components = template_object(outbound.template)["components"]
    assert components[0] == {"type": "header", "parameters": [
        {"type": "document", "document": {"link": "https://example.com/r.pdf", "filename": "r.pdf"}}]}
    assert {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "A-7"}]} in components
