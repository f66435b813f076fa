"""The sandbox providers pass the same contract as the real adapters, optional operations
included (the demo and the domain's tests rely on them)."""

import json

import pytest

from providers import events, sandbox
from providers.errors import ProviderRejected
from providers.sandbox import DEMO_TEMPLATES, SandboxVoip, SandboxWhatsApp, sign
from providers.values import TemplateStatus, WebhookRequest
from tests.providers.contract import RECIPIENT, ProviderContract
from tests.providers.operations_contract import VoipOperationsContract, WhatsAppOperationsContract

FAILURE_MODES = {
    "unavailable": "unavailable",
    "provider_refusal": "rejected_provider",
    "recipient_refusal": "rejected_recipient",
}


class SandboxContract(ProviderContract):
    secrets = {"api_key": "sk_sandbox_CONTRACT_0123456789"}
    required_fields = set()
    auth_error_code = "sandbox_auth"
    recipient_error_code = "sandbox_recipient"

    def valid_config(self):
        return {"sender": "+14155238886", "latency_ms": 0, "failure_rate": 0, "label": "contract"}

    @pytest.fixture
    def adapter(self):
        return self.provider_class(config=self.valid_config(), credentials=dict(self.secrets), webhook_secret="whsec-sbx-0123456789")

    def fail_next(self, adapter, kind):
        adapter.config.update(failure_rate=1, failure_mode=FAILURE_MODES[kind])

    def make_unhealthy(self, adapter):
        adapter.config["health"] = "down"

    def check_success(self, adapter, result):
        [record] = sandbox.outbox
        assert record["to"] == RECIPIENT and record["label"] == "contract"
        provider_id = getattr(result, "provider_message_id", None) or result.provider_call_id
        assert provider_id == record["provider_id"]


class TestSandboxWhatsAppContract(WhatsAppOperationsContract, SandboxContract):
    provider_class = SandboxWhatsApp

    def check_template_sent(self, adapter, result, message):
        [record] = sandbox.outbox
        assert record["body"] == "Olá Ana, seu pedido A-1042 foi enviado."
        assert record["template"] == {"name": "order_update", "language": "pt_BR",
                                      "variables": {"1": "Ana", "2": "A-1042"}, "category": "utility"}
        assert result.provider_message_id == record["provider_id"]

    def check_interactive_sent(self, adapter, result, message):
        [record] = sandbox.outbox
        assert record["interactive"]["kind"] == message.kind
        assert record["body"] == message.as_text()

    def assert_nothing_sent(self, adapter):
        assert sandbox.outbox == []

    def prepare_templates(self, adapter):
        adapter.config["template_status"] = "pending"
        return {(name, language, TemplateStatus.PENDING) for _, name, language, *_ in DEMO_TEMPLATES}

    def serve_media(self, adapter, content, mime_type):
        adapter.config["media_size"] = len(content)
        return "sandbox-media:photo.jpg"

    def test_download_media_within_and_beyond_the_limit(self, adapter):
        # The sandbox serves deterministic bytes of the configured size, not the caller's.
        reference = self.serve_media(adapter, b"x" * 300, "image/jpeg")
        media = adapter.download_media(reference, max_bytes=300)
        assert (media.size, media.mime_type, media.filename) == (300, "image/jpeg", "photo.jpg")
        assert adapter.download_media(reference, max_bytes=300).content == media.content
        with pytest.raises(ProviderRejected) as caught:
            adapter.download_media(reference, max_bytes=299)
        assert caught.value.code == events.ERROR_MEDIA_TOO_LARGE

    def test_a_template_missing_a_variable_is_refused(self, adapter):
        from providers.values import OutboundMessage, TemplateMessage

        with pytest.raises(ProviderRejected) as caught:
            adapter.send_message(OutboundMessage(to=RECIPIENT, template=TemplateMessage(
                name="order_update", language="pt_BR", text="Hi {{1}} {{2}}", variables={"1": "Ana"})))
        assert caught.value.code == events.ERROR_TEMPLATE_PARAMETERS
        assert sandbox.outbox == []

    def test_webhook_carries_replies_reactions_and_addresses(self, adapter):
        body = json.dumps({"events": [
            {"kind": events.INTERACTIVE_REPLY, "id": "e1", "provider_message_id": "in-1", "from": RECIPIENT,
             "chat_id": RECIPIENT, "chat_kind": "direct", "related_message_id": "sbx-1",
             "reply": {"kind": "button", "id": "yes", "title": "Yes"}},
            {"kind": events.REACTION, "id": "e2", "provider_message_id": "in-2", "related_message_id": "sbx-1",
             "reaction": {"emoji": ""}},
            {"kind": events.INBOUND_MESSAGE, "id": "e3", "provider_message_id": "in-3", "chat_id": "120363@g.us",
             "chat_kind": "group", "sender_id": "5511@lid", "sender_kind": "lid", "body": "oi",
             "attachments": [{"url": "sandbox-media:a.jpg", "mime_type": "image/jpeg", "caption": "oi"}]},
        ]}).encode()
        request = WebhookRequest(method="POST", url="https://x/", body=body,
                                 headers={"X-Sandbox-Signature": sign(adapter.webhook_secret, body)})
        adapter.verify_webhook(request)
        reply, reaction, inbound = adapter.parse_webhook(request)
        assert (reply.reply.id, reply.reply.title, reply.related_message_id) == ("yes", "Yes", "sbx-1")
        assert reaction.reaction.emoji == "" and reaction.kind == events.REACTION
        assert (inbound.chat_kind, inbound.sender_kind, inbound.from_number) == ("group", "lid", "")
        assert inbound.attachments[0].caption == "oi"


class TestSandboxVoipContract(VoipOperationsContract, SandboxContract):
    provider_class = SandboxVoip

    def prepare_hangup(self, adapter, provider_call_id):
        pass

    def check_hangup(self, adapter, provider_call_id, result):
        assert result.status == events.CALL_COMPLETED and not result.already_ended
        assert [r["kind"] for r in sandbox.outbox] == ["call", "hangup"]
        assert adapter.fetch_call(provider_call_id).status == events.CALL_COMPLETED
        assert adapter.hangup(provider_call_id).already_ended is True

    def test_hangup_of_an_unknown_call_is_refused(self, adapter):
        with pytest.raises(ProviderRejected) as caught:
            adapter.hangup("sbx-unknown")
        assert caught.value.code == "call_not_found"
