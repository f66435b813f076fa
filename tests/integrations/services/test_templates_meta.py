"""Templates against Meta's own shapes: imported from the documented template listing (pywa's
fixtures, served by the loopback server) and sent as Meta expects, only where approved."""

from __future__ import annotations

import pytest

from integrations.models import Message, TemplateMapping
from integrations.services import templates
from integrations.services.delivery import dispatch, intake
from tests.factories import make_integration
from tests.providers.fixture_files import load
from tests.providers.loopback import LoopbackServer, Reply

pytestmark = pytest.mark.django_db
PHONE_ID, WABA_ID = "106540352242922", "102290129340398"
TEMPLATES_PATH = f"/v21.0/{WABA_ID}/message_templates"
MESSAGES_PATH = f"/v21.0/{PHONE_ID}/messages"
TO = "+14155550123"


@pytest.fixture
def meta():
    pages = {None: load("meta", "templates_page_1.json"), "QVFIUnhodGFpT0R3": load("meta", "templates_page_2.json")}
    with LoopbackServer() as server:
        server.route("GET", TEMPLATES_PATH, lambda request: Reply(json=pages[(request.query.get("after") or [None])[0]]))
        server.route("POST", MESSAGES_PATH, Reply(json=load("meta", "send_template_answer.json")))
        yield server


def test_import_then_send_an_approved_template_the_way_meta_documents_it(organization, meta):
    integration = make_integration(
        organization=organization, provider_name="meta_cloud",
        config={"phone_number_id": PHONE_ID, "waba_id": WABA_ID, "api_version": "v21.0", "base_url": meta.url},
        credentials={"access_token": "EAAG-domain-token-0123", "app_secret": "app-secret-domain-01"},
    )
    result = templates.templates_import(integration=integration, actor="system:test")
    assert (result.read, result.created_templates, result.approved) == (3, 3, 1)
    statuses = dict(TemplateMapping.objects.filter(integration=integration).values_list("template__name", "status"))
    assert statuses == {"seasonal_promotion": "approved", "order_confirmation": "pending", "coupon_code_fall2023_25off": "rejected"}

    message, _ = intake.send_message(organization=organization, channel="whatsapp", to=TO, body="", actor="system:test", template={
        "name": "seasonal_promotion", "language": "en_US", "variables": {"1": "the end of August", "2": "25OFF", "3": "25%"},
        "header": {"variables": {"1": "Summer Sale"}}})
    assert message.category == "marketing"
    dispatch.deliver_message(message_id=message.pk)

    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert message.provider_message_id == "wamid.HBgLMTQxNTU1NTAxMjMVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"
    sent = meta.requests_to("POST", MESSAGES_PATH)[0].json()
    assert sent["type"] == "template"
    assert sent["template"]["name"] == "seasonal_promotion" and sent["template"]["language"] == {"code": "en_US"}
    components = {component["type"]: component for component in sent["template"]["components"]}
    assert components["header"]["parameters"] == [{"type": "text", "text": "Summer Sale"}]
    assert [p["text"] for p in components["body"]["parameters"]] == ["the end of August", "25OFF", "25%"]

    pending, _ = intake.send_message(organization=organization, channel="whatsapp", to=TO, body="", actor="system:test",
                                     template={"name": "order_confirmation", "language": "en_US",
                                               "variables": {name: "x" for name in _placeholders("order_confirmation")},
                                               "header": {"media_url": "https://example.com/order.pdf"}})
    dispatch.deliver_message(message_id=pending.pk)
    pending.refresh_from_db()
    assert pending.error_code == "template_unavailable"
    assert len(meta.requests_to("POST", MESSAGES_PATH)) == 1  # the pending template never reached Meta


def _placeholders(name: str) -> tuple[str, ...]:
    from integrations.models import MessageTemplate
    from providers.values import placeholders

    return placeholders(MessageTemplate.objects.get(name=name).body)
