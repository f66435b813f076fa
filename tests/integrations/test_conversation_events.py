"""Replies, reactions and system notices from webhooks become normalized events; interactive
messages go out through the API and the provider layer's value objects."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from integrations.errors import OutsideServiceWindow
from integrations.models import ConversationEvent, Message, ServiceWindow
from integrations.services import templates
from integrations.services.delivery import dispatch, intake
from integrations.services.service_windows import window_fallback_set
from integrations.services.webhooks import webhook_apply_events
from providers import events, sandbox
from providers.values import InboundEvent, InteractiveReply, Reaction
from tests.factories import make_integration
from tests.providers.fixture_files import raw

pytestmark = pytest.mark.django_db
APP_SECRET = "meta-APP-secret-events-31"
TO = "+5511987654321"
BUTTONS = {"body": "Confirm your order?", "buttons": [{"id": "yes", "title": "Yes"}, {"id": "no", "title": "No"}]}


def meta_integration(organization):
    return make_integration(organization=organization, provider_name="meta_cloud", config={"phone_number_id": "1122334455667"},
                            credentials={"access_token": "EAAG-token-events-123", "app_secret": APP_SECRET})


def post_fixture(client, integration, name):
    body = raw("meta", name)
    signature = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return client.post(reverse("webhooks:receive", kwargs={"integration_id": integration.pk}), data=body,
                       content_type="application/json", HTTP_X_HUB_SIGNATURE_256=signature)


def test_metas_button_reply_is_stored_with_its_id_and_title_and_linked_to_our_message(client, organization):
    integration = meta_integration(organization)
    ours = Message.objects.create(organization=organization, integration=integration, channel="whatsapp", to="+972987654321",
                                  body="Pick one", status=Message.Status.SENT, provider_message_id="wamid.xyzxyz")
    assert post_fixture(client, integration, "webhook_callback_button_button.json").status_code == 200
    assert post_fixture(client, integration, "webhook_callback_button_button.json").status_code == 200  # a replay

    event = ConversationEvent.objects.get(organization=organization)
    assert (event.kind, event.reply_kind, event.reply_id, event.reply_title) == (events.INTERACTIVE_REPLY, "button", "callback_data", "title")
    assert event.contact == "+972987654321" and event.related_message_id == ours.pk
    assert not Message.objects.filter(direction=Message.Direction.INBOUND).exists()  # not stored as "[button message]"


@pytest.mark.parametrize(("fixture", "kind", "check"), [
    ("webhook_callback_selection_description.json", events.INTERACTIVE_REPLY, lambda e: e.reply_kind == "list" and e.reply_description),
    ("webhook_message_reaction.json", events.REACTION, lambda e: e.emoji and e.related_provider_message_id),
    ("webhook_message_unreaction_empty.json", events.REACTION, lambda e: e.emoji == ""),
    ("webhook_system_identity_change.json", events.SYSTEM_NOTICE, lambda e: e.system_type),
])
def test_metas_list_replies_reactions_and_system_notices_are_events(client, organization, fixture, kind, check):
    integration = meta_integration(organization)
    assert post_fixture(client, integration, fixture).status_code == 200
    event = ConversationEvent.objects.get(organization=organization)
    assert event.kind == kind and check(event)


def test_a_reply_opens_the_window_and_a_reaction_does_not(organization):
    integration = meta_integration(organization)
    now = timezone.now()
    webhook_apply_events(integration=integration, parsed=[
        InboundEvent(kind=events.REACTION, provider_message_id="wamid.r", from_number="+5511900000000",
                     reaction=Reaction(emoji="👍"), occurred_at=now),
        InboundEvent(kind=events.INTERACTIVE_REPLY, provider_message_id="wamid.b", from_number=TO,
                     reply=InteractiveReply(kind="button", id="yes", title="Yes"), occurred_at=now),
    ])
    assert list(ServiceWindow.objects.values_list("contact", flat=True)) == [TO]
    assert ConversationEvent.objects.count() == 2


def test_an_interactive_message_goes_out_as_buttons(organization):
    integration = make_integration(organization=organization, config={"label": "p"})
    message, _ = intake.send_message(organization=organization, channel="whatsapp", to=TO, body="", actor="system:test",
                                     interactive=BUTTONS)
    assert message.body == "Confirm your order?\n\n1. Yes\n2. No"
    assert message.interactive["buttons"] == BUTTONS["buttons"]

    dispatch.deliver_message(message_id=message.pk)

    message.refresh_from_db()
    assert message.status == Message.Status.SENT and message.integration_id == integration.pk
    assert sandbox.outbox[0]["interactive"] == {"kind": "buttons", "options": [["yes", "Yes", ""], ["no", "No", ""]]}


@pytest.mark.parametrize(("interactive", "body", "expected"), [
    ({"body": "Pick", "buttons": [{"id": str(i), "title": f"B{i}"} for i in range(4)]}, "", "At most 3 reply buttons."),
    ({"body": "Pick", "buttons": [{"id": "a", "title": "x" * 21}]}, "", "Button titles are 1-20 characters"),
    ({"body": "Pick", "sections": [{"title": "", "rows": [{"id": "a", "title": "A"}]}]}, "", "A list needs a button text"),
    (BUTTONS, "also a body", "Send one of"),
])
def test_an_interactive_message_is_checked_at_intake(organization, interactive, body, expected):
    with pytest.raises(ValidationError) as refused:
        intake.send_message(organization=organization, channel="whatsapp", to=TO, body=body, actor="system:test",
                            interactive=interactive)
    assert any(expected in problem for problem in refused.value.message_dict["interactive"])


def test_an_interactive_message_outside_the_window_is_not_turned_into_the_fallback(organization):
    meta_integration(organization)
    fallback = templates.template_create(organization=organization, actor="system:test", name="reopen", language="en",
                                         category="utility", body="Update: {{1}}")
    window_fallback_set(organization=organization, template=fallback, actor="system:test")
    with pytest.raises(OutsideServiceWindow):
        intake.send_message(organization=organization, channel="whatsapp", to=TO, body="", actor="system:test",
                            interactive=BUTTONS)


def test_the_api_sends_a_list_and_lists_the_events(client, organization):
    from rest_framework.authtoken.models import Token

    from tests.factories import make_membership, make_user

    user = make_user(username="events-admin", staff=False)
    make_membership(user=user, organization=organization)
    make_integration(organization=organization)
    headers = {"HTTP_AUTHORIZATION": f"Token {Token.objects.get_or_create(user=user)[0].key}"}
    listing = {"body": "Choose a slot", "button_text": "Slots", "sections": [
        {"title": "Morning", "rows": [{"id": "9", "title": "09:00", "description": "Front desk"}]}]}
    response = client.post("/api/v1/messages/", {"to": TO, "interactive": listing}, content_type="application/json", **headers)
    assert response.status_code == 202, response.content
    assert response.json()["interactive"]["sections"][0]["rows"][0]["description"] == "Front desk"
    bad = client.post("/api/v1/messages/", {"to": TO, "interactive": {"body": "x"}}, content_type="application/json", **headers)
    assert bad.status_code == 400 and bad.json()["errors"]["interactive"]

    integration = meta_integration(organization)
    webhook_apply_events(integration=integration, parsed=[InboundEvent(
        kind=events.INTERACTIVE_REPLY, provider_message_id="wamid.l", from_number=TO,
        reply=InteractiveReply(kind="list", id="9", title="09:00"))])
    listed = client.get("/api/v1/conversation-events/", {"kind": events.INTERACTIVE_REPLY, "contact": TO}, **headers).json()
    assert [(e["reply_id"], e["reply_title"]) for e in listed["results"]] == [("9", "09:00")]


def test_the_content_a_provider_created_for_an_interactive_message_is_reused(organization):
    from integrations.models import InteractiveContent
    from integrations.services.delivery import content
    from providers.values import OutboundMessage, SendResult

    twilio = make_integration(organization=organization, provider_name="twilio_whatsapp",
                              config={"account_sid": "AC" + "0" * 32, "from_number": "+14155238886"},
                              credentials={"auth_token": "twilio-token-0123456789"})
    other = make_integration(organization=organization)
    outbound = OutboundMessage(to=TO, interactive=content.interactive_from_dict(BUTTONS))
    assert content.outbound_for(None, outbound, twilio).interactive.provider_content_id == ""

    content.content_sent(integration=twilio, outbound=outbound, result=SendResult(provider_message_id="SM1", raw={"content_sid": "HX0123"}))
    content.content_sent(integration=twilio, outbound=outbound, result=SendResult(provider_message_id="SM2", raw={"content_sid": "HX9999"}))

    assert list(InteractiveContent.objects.values_list("provider_content_id", flat=True)) == ["HX0123"]
    assert content.outbound_for(None, outbound, twilio).interactive.provider_content_id == "HX0123"
    assert content.outbound_for(None, outbound, other).interactive.provider_content_id == ""
    changed = OutboundMessage(to=TO, interactive=content.interactive_from_dict({**BUTTONS, "body": "Really?"}))
    assert content.outbound_for(None, changed, twilio).interactive.provider_content_id == ""
