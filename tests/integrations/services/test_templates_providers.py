"""Templates against the providers' own shapes: imported from the documented template listings (pywa's
Meta fixtures, the Twilio SDK's Content shapes, served by the loopback server) and sent as each
expects, only where approved."""

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


# ----- Twilio: Content and approvals (the SDK's shapes and Twilio's documented example)

TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_MESSAGES = f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"


def test_twilio_content_is_imported_and_a_template_is_sent_by_its_content_sid(organization):
    with LoopbackServer() as twilio:
        first, second = load("twilio", "content_and_approvals_page_1.json"), load("twilio", "content_and_approvals_page_2.json")
        first["meta"]["next_page_url"] = first["meta"]["next_page_url"].replace("https://content.twilio.com", twilio.url)
        pages = {None: first, "PAHXaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa": second}
        twilio.route("GET", "/v1/ContentAndApprovals", lambda request: Reply(json=pages[(request.query.get("PageToken") or [None])[0]]))
        twilio.route("POST", TWILIO_MESSAGES, Reply(status=201, json={"sid": "SM" + "1" * 32, "status": "queued", "price": None,
                                                                    "price_unit": "USD", "error_code": None, "error_message": None}))
        integration = make_integration(
            organization=organization, provider_name="twilio_whatsapp",
            config={"account_sid": TWILIO_SID, "from_number": "+14155238886", "base_url": twilio.url, "content_base_url": twilio.url},
            credentials={"auth_token": "twilio-AUTH-token-domain-77"},
        )
        result = templates.templates_import(integration=integration, actor="system:test")
        assert (result.read, result.approved) == (4, 1)
        mapping = TemplateMapping.objects.get(integration=integration, template__name="order_update")
        assert (mapping.status, mapping.provider_template_id) == ("approved", "HX" + "a" * 32)
        assert TemplateMapping.objects.get(integration=integration, template__name="draft_never_submitted").status == "unsubmitted"

        names = _placeholders("order_update")
        message, _ = intake.send_message(organization=organization, channel="whatsapp", to=TO, body="", actor="system:test",
                                         template={"name": "order_update", "language": "pt", "variables": {n: "Ana" for n in names}})
        dispatch.deliver_message(message_id=message.pk)

        message.refresh_from_db()
        assert message.status == Message.Status.SENT and message.category == "utility"
        form = twilio.requests_to("POST", TWILIO_MESSAGES)[0].form()
        assert form["ContentSid"] == ["HX" + "a" * 32] and "Body" not in form
