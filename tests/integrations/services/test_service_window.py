"""The 24-hour customer-service window: tracked from inbound webhooks, enforced at intake on
official providers only, with the organization's fallback template."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from integrations.errors import OutsideServiceWindow
from integrations.models import Message, ServiceWindow
from integrations.selectors.service_windows import open_contacts
from integrations.services import templates
from integrations.services.delivery import intake
from integrations.services.service_windows import window_fallback_set, window_record_inbound
from integrations.services.webhooks import webhook_apply_events
from providers import events
from providers.values import InboundEvent
from tests.factories import make_integration

CONTACT = "+5511987654321"
pytestmark = pytest.mark.django_db


def meta(organization, **fields):
    return make_integration(organization=organization, provider_name="meta_cloud", config={"phone_number_id": "1"},
                            credentials={"access_token": "t" * 12, "app_secret": "s" * 12}, **fields)


def free_text(organization, body="Any news?", **fields):
    return intake.send_message(organization=organization, channel="whatsapp", to=CONTACT, body=body,
                               actor="system:test", **fields)


def inbound(integration, *, at, message_id="wamid.1", contact=CONTACT):
    return webhook_apply_events(integration=integration, parsed=[InboundEvent(
        kind=events.INBOUND_MESSAGE, provider_message_id=message_id, from_number=contact, body="hi", occurred_at=at)])


def test_an_inbound_message_opens_the_window_and_a_replay_never_moves_it_back(organization):
    integration = meta(organization)
    now = timezone.now()
    inbound(integration, at=now - timedelta(hours=1))
    inbound(integration, at=now - timedelta(hours=30), message_id="wamid.0")  # a late, older one
    window = ServiceWindow.objects.get(organization=organization, contact=CONTACT)
    assert window.last_inbound_at == now - timedelta(hours=1)
    assert open_contacts(organization=organization, channel="whatsapp", contacts=[CONTACT, "+5511900000000"]) == {CONTACT}
    window_record_inbound(organization=organization, channel="whatsapp", contact="", at=now)  # a group: nothing kept
    assert ServiceWindow.objects.count() == 1


def test_free_text_outside_the_window_on_an_official_provider_is_refused(organization):
    integration = meta(organization)
    with pytest.raises(OutsideServiceWindow) as refused:
        free_text(organization)
    assert refused.value.code == "outside_service_window" and CONTACT in refused.value.message
    inbound(integration, at=timezone.now() - timedelta(hours=25))  # closed again by now
    with pytest.raises(OutsideServiceWindow):
        free_text(organization)
    assert not Message.objects.filter(direction="out").exists()

    inbound(integration, at=timezone.now() - timedelta(hours=23), message_id="wamid.2")
    message, created = free_text(organization)
    assert created and message.body == "Any news?" and message.template_id is None


def test_a_template_needs_no_window(organization):
    meta(organization)
    templates.template_create(organization=organization, actor="system:test", name="hello", language="en",
                              category="utility", body="Hello {{1}}")
    message, _ = intake.send_message(organization=organization, channel="whatsapp", to=CONTACT, body="", actor="system:test",
                                     template={"name": "hello", "language": "en", "variables": {"1": "Ana"}})
    assert message.body == "Hello Ana"


def test_a_bridge_or_sandbox_in_the_route_has_no_window(organization):
    meta(organization)
    make_integration(organization=organization)  # the sandbox declares no window, like a bridge
    message, created = free_text(organization)
    assert created


def test_the_fallback_template_carries_the_text_and_attachments_are_still_refused(organization):
    meta(organization)
    fallback = templates.template_create(organization=organization, actor="system:test", name="reopen", language="en",
                                         category="utility", body="We have an update: {{1}}")
    window_fallback_set(organization=organization, template=fallback, actor="system:test")

    message, _ = free_text(organization, body="your order shipped")
    assert message.template_id == fallback.pk and message.template_variables == {"1": "your order shipped"}
    assert message.body == "We have an update: your order shipped" and message.category == "utility"

    with pytest.raises(OutsideServiceWindow):
        free_text(organization, body="", attachments=[{"url": "https://example.com/a.pdf", "mime_type": "application/pdf"}])


def test_a_fallback_template_has_at_most_one_variable(organization, other_organization):
    two = templates.template_create(organization=organization, actor="system:test", name="two", language="en",
                                    category="utility", body="{{1}} and {{2}}")
    with pytest.raises(ValidationError):
        window_fallback_set(organization=organization, template=two, actor="system:test")
    theirs = templates.template_create(organization=other_organization, actor="system:test", name="x", language="en",
                                       category="utility", body="x")
    with pytest.raises(ValidationError):
        window_fallback_set(organization=organization, template=theirs, actor="system:test")


def test_a_replayed_key_answers_with_the_stored_message_after_the_window_closed(organization):
    integration = meta(organization)
    inbound(integration, at=timezone.now() - timedelta(hours=1))
    first, _ = free_text(organization, idempotency_key="k-1")
    ServiceWindow.objects.update(last_inbound_at=timezone.now() - timedelta(days=2))
    again, created = free_text(organization, idempotency_key="k-1")
    assert again.pk == first.pk and not created


def test_the_admin_lists_windows_templates_and_events_of_the_users_organizations_only(client, organization, other_organization):
    from django.urls import reverse

    from integrations.models import Membership
    from tests.factories import make_membership, make_user

    now = timezone.now()
    ServiceWindow.objects.create(organization=organization, contact=CONTACT, last_inbound_at=now)
    ServiceWindow.objects.create(organization=other_organization, contact="+5511900000001", last_inbound_at=now)
    templates.template_create(organization=organization, actor="system:test", name="ours_hello", language="en",
                              category="utility", body="Hi")
    staff = make_user(username="desk-windows")
    make_membership(user=staff, organization=organization, role=Membership.Role.ADMIN)
    client.force_login(staff)
    windows = client.get(reverse("admin:integrations_servicewindow_changelist")).content.decode()
    assert CONTACT in windows and "+5511900000001" not in windows and ">Open<" in windows
    assert "ours_hello" in client.get(reverse("admin:integrations_messagetemplate_changelist")).content.decode()
    assert client.get(reverse("admin:integrations_conversationevent_changelist")).status_code == 200


def test_a_group_and_a_linked_id_are_kept_as_what_they_are(organization):
    """WAHA's GOWS group message and Evolution's linked-id sender (the bridges' own fixtures),
    through the adapter's safe entry point and the webhook service."""
    import json

    from providers.values import WebhookRequest
    from tests.providers.fixture_files import load

    def apply(integration, provider, fixture):
        request = WebhookRequest(method="POST", url="https://x/", body=json.dumps(load(provider, fixture)).encode(), headers={})
        webhook_apply_events(integration=integration, parsed=integration.adapter().webhook_events(request))

    waha = make_integration(organization=organization, provider_name="whatsapp_web", display_name="WAHA",
                            config={"base_url": "http://127.0.0.1:9/"}, credentials={"api_key": "k" * 12})
    evolution = make_integration(organization=organization, provider_name="whatsapp_web", display_name="Evolution",
                                 config={"base_url": "http://127.0.0.1:9/", "api": "evolution"}, credentials={"api_key": "k" * 12})
    apply(waha, "waha", "message_gows_group_media.json")
    apply(evolution, "evolution", "upsert_lid_only.json")

    group = Message.objects.get(integration=waha)
    assert (group.chat_id, group.chat_kind, group.sender_id) == ("120363025246125486@g.us", events.CHAT_GROUP, "5511987654321@c.us")
    assert not group.to.startswith("+120363") and not group.from_number.startswith("+120363")
    lid = Message.objects.get(integration=evolution)
    assert (lid.chat_id, lid.from_number, lid.body) == ("13718@lid", "", "Oi")
    assert not ServiceWindow.objects.exists()  # a group message opens no one-to-one window; a linked id has no phone
