"""The contract of the optional operations, shared by every adapter of a channel.

A WhatsApp adapter's test class mixes in ``WhatsAppOperationsContract``, a VoIP adapter's
``VoipOperationsContract`` (next to ``ProviderContract`` / ``HttpProviderContract``). Each
optional operation is exercised when the provider declares its feature, and must be refused
with ``ProviderRejected(code="unsupported", fail_over=True)`` when it does not: no test is
skipped, every branch asserts.

Hooks a test class fills in for the features it declares: how the provider (loopback server
or sandbox) is prepared, and what the adapter must have sent.
"""

from __future__ import annotations

from typing import Any

import pytest

from providers import events, features
from providers.base import Provider
from providers.errors import ProviderRejected
from providers.values import (
    InteractiveMessage,
    ListRow,
    ListSection,
    OutboundMessage,
    ReplyButton,
    TemplateMapping,
    TemplateMessage,
    TemplateStatus,
    placeholders,
)
from tests.providers.contract import RECIPIENT

MEDIA_BYTES = bytes(range(256)) * 8  # 2 KiB that are not text


def assert_unsupported(caught: pytest.ExceptionInfo) -> None:
    assert caught.value.code == events.ERROR_UNSUPPORTED
    assert caught.value.fail_over is True


class WhatsAppOperationsContract:
    provider_class: type[Provider]

    # ----- hooks

    def template_mapping(self) -> TemplateMapping:
        return TemplateMapping()

    def template_message(self) -> TemplateMessage:
        return TemplateMessage(
            name="order_update", language="pt_BR", category="utility", variables={"1": "Ana", "2": "A-1042"},
            text="Olá {{1}}, seu pedido {{2}} foi enviado.", mapping=self.template_mapping(),
        )

    def interactive_message(self) -> InteractiveMessage:
        return InteractiveMessage(body="Confirm the delivery on Friday?",
                                  buttons=(ReplyButton("yes", "Yes"), ReplyButton("no", "No")))

    def list_message(self) -> InteractiveMessage:
        return InteractiveMessage(body="Pick a slot", button_text="Slots", sections=(
            ListSection("Friday", (ListRow("fri-am", "Morning", "8-12"), ListRow("fri-pm", "Afternoon"))),
        ))

    def check_template_sent(self, adapter: Any, result: Any, message: TemplateMessage) -> None:
        raise NotImplementedError

    def check_interactive_sent(self, adapter: Any, result: Any, message: InteractiveMessage) -> None:
        raise NotImplementedError

    def assert_nothing_sent(self, adapter: Any) -> None:
        raise NotImplementedError

    def prepare_templates(self, adapter: Any) -> set[tuple[str, str, TemplateStatus]]:
        """Make the provider hold templates; return the (name, language, status) it holds."""
        raise NotImplementedError

    def serve_media(self, adapter: Any, content: bytes, mime_type: str) -> str:
        """Make the provider serve ``content``; return the reference an inbound event carries."""
        raise NotImplementedError

    # ----- shared tests

    def test_declared_features_are_known(self):
        assert set(self.provider_class.features) <= features.ALL

    def test_template_send(self, adapter):
        message = self.template_message()
        if not adapter.supports(features.TEMPLATES):
            with pytest.raises(ProviderRejected) as caught:
                adapter.send_message(OutboundMessage(to=RECIPIENT, template=message))
            assert_unsupported(caught)
            self.assert_nothing_sent(adapter)
            return
        result = adapter.send_message(OutboundMessage(to=RECIPIENT, template=message, client_reference="msg-tpl-1"))
        assert result.provider_message_id and result.status == events.STATUS_SENT
        self.check_template_sent(adapter, result, message)

    def test_template_without_name_is_refused_before_sending(self, adapter):
        message = TemplateMessage(name="", language="pt_BR", text="x", mapping=self.template_mapping())
        with pytest.raises(ProviderRejected) as caught:
            adapter.send_message(OutboundMessage(to=RECIPIENT, template=message))
        assert caught.value.code in ("invalid_template", events.ERROR_UNSUPPORTED)
        self.assert_nothing_sent(adapter)

    @pytest.mark.parametrize("kind", ["buttons", "list"])
    def test_interactive_send(self, adapter, kind):
        message = self.interactive_message() if kind == "buttons" else self.list_message()
        if not adapter.supports(features.INTERACTIVE):
            with pytest.raises(ProviderRejected) as caught:
                adapter.send_message(OutboundMessage(to=RECIPIENT, interactive=message))
            assert_unsupported(caught)
            self.assert_nothing_sent(adapter)
            return
        result = adapter.send_message(OutboundMessage(to=RECIPIENT, interactive=message))
        assert result.provider_message_id and result.status == events.STATUS_SENT
        self.check_interactive_sent(adapter, result, message)

    def test_four_buttons_are_refused_before_sending(self, adapter):
        message = InteractiveMessage(body="Pick", buttons=tuple(ReplyButton(str(i), f"Option {i}") for i in range(4)))
        with pytest.raises(ProviderRejected) as caught:
            adapter.send_message(OutboundMessage(to=RECIPIENT, interactive=message))
        assert caught.value.code in ("invalid_interactive", events.ERROR_UNSUPPORTED)
        assert caught.value.fail_over is (caught.value.code == events.ERROR_UNSUPPORTED)
        self.assert_nothing_sent(adapter)

    def test_list_templates(self, adapter):
        if not adapter.supports(features.TEMPLATE_IMPORT):
            with pytest.raises(ProviderRejected) as caught:
                adapter.list_templates()
            assert_unsupported(caught)
            return
        expected = self.prepare_templates(adapter)
        templates = adapter.list_templates()
        assert {(t.name, t.language, t.status) for t in templates} == expected
        for template in templates:
            assert template.provider_template_id
            assert template.variables == placeholders(template.body)
            assert template.category in ("", "marketing", "utility", "authentication")

    def test_download_media_within_and_beyond_the_limit(self, adapter):
        if not adapter.supports(features.MEDIA_DOWNLOAD):
            with pytest.raises(ProviderRejected) as caught:
                adapter.download_media("anything", max_bytes=1024)
            assert_unsupported(caught)
            return
        reference = self.serve_media(adapter, MEDIA_BYTES, "image/jpeg")
        media = adapter.download_media(reference, max_bytes=len(MEDIA_BYTES))
        assert media.content == MEDIA_BYTES and media.mime_type == "image/jpeg"
        with pytest.raises(ProviderRejected) as caught:
            adapter.download_media(reference, max_bytes=len(MEDIA_BYTES) - 1)
        assert caught.value.code == events.ERROR_MEDIA_TOO_LARGE


class VoipOperationsContract:
    provider_class: type[Provider]

    def prepare_hangup(self, adapter: Any, provider_call_id: str) -> None:
        raise NotImplementedError

    def check_hangup(self, adapter: Any, provider_call_id: str, result: Any) -> None:
        raise NotImplementedError

    def test_declared_features_are_known(self):
        assert set(self.provider_class.features) <= features.ALL

    def test_hangup(self, adapter):
        call = self.perform(adapter)
        if not adapter.supports(features.HANGUP):
            with pytest.raises(ProviderRejected) as caught:
                adapter.hangup(call.provider_call_id)
            assert_unsupported(caught)
            return
        self.prepare_hangup(adapter, call.provider_call_id)
        result = adapter.hangup(call.provider_call_id)
        assert result.provider_call_id == call.provider_call_id
        assert result.latency_ms is not None
        assert result.status in ("", *events.CALL_FINAL_STATUSES)
        self.check_hangup(adapter, call.provider_call_id, result)

    def test_hangup_needs_a_call_id(self, adapter):
        with pytest.raises(ProviderRejected) as caught:
            adapter.hangup("")
        assert caught.value.code in ("invalid_call", events.ERROR_UNSUPPORTED)
