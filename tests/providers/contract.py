"""The contract every real provider adapter passes, against a loopback server.

An adapter's test class subclasses ``ProviderContract`` and fills in how that provider's API
looks (routes, auth check, error bodies); the tests below are the same for every provider:
config validation, a successful operation, every failure mapped to the right error,
``test_connection`` healthy and down, and no credential in any error text or log record.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import pytest
from django.core.exceptions import ValidationError

from providers.base import (
    HealthStatus,
    OutboundCall,
    OutboundMessage,
    Provider,
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
    VoipProvider,
)
from providers.registry import get_registry
from tests.providers.loopback import MALFORMED, LoopbackServer, Recorded, Reply, unused_port_url

RECIPIENT = "+14155550123"
# How long the loopback server stalls in the timeout test; the adapter's read timeout is 0.3 s.
HANG_SECONDS = 3.0


class ProviderContract:
    provider_class: ClassVar[type[Provider]]
    # Values that must never show up in an error or a log line.
    secrets: ClassVar[dict[str, str]]
    # Field names validate_config must report for an empty configuration.
    required_fields: ClassVar[set[str]]
    # The path of the operation (send / call) and of the health read.
    operation: ClassVar[tuple[str, str]]
    health: ClassVar[tuple[str, str]]
    auth_error_code: ClassVar[str]
    recipient_error_code: ClassVar[str]

    # ----- what a provider's test class fills in

    def config(self, base_url: str) -> dict[str, Any]:
        raise NotImplementedError

    def authorized(self, request: Recorded) -> bool:
        raise NotImplementedError

    def unauthorized_reply(self) -> Reply:
        raise NotImplementedError

    def success_reply(self) -> Reply:
        raise NotImplementedError

    def healthy_reply(self) -> Reply:
        raise NotImplementedError

    def unhealthy_reply(self) -> Reply:
        raise NotImplementedError

    def server_error_reply(self) -> Reply:
        return Reply(status=500, json={"message": "internal error"})

    def rate_limit_reply(self) -> Reply:
        raise NotImplementedError

    def recipient_error_reply(self) -> Reply:
        raise NotImplementedError

    def assert_operation_request(self, request: Recorded) -> None:
        """Check the request the adapter built for the standard operation."""
        raise NotImplementedError

    expected_provider_id: ClassVar[str]

    # ----- shared plumbing

    @pytest.fixture
    def server(self):
        with LoopbackServer(authorize=self.authorized, unauthorized=self.unauthorized_reply()) as server:
            server.route(*self.operation, self.success_reply())
            server.route(*self.health, self.healthy_reply())
            yield server

    def make_adapter(self, base_url: str, **overrides: Any) -> Provider:
        config = {**self.config(base_url), "connect_timeout": 1, "read_timeout": 0.3, **overrides}
        return self.provider_class(
            config=config,
            credentials=dict(self.secrets),
            webhook_secret="whsec-CONTRACT-0123456789",
            webhook_url="https://switchboard.example.com/webhooks/00000000-0000-0000-0000-000000000000/",
        )

    @pytest.fixture
    def adapter(self, server):
        return self.make_adapter(server.url)

    def perform(self, adapter: Provider):
        if isinstance(adapter, VoipProvider):
            return adapter.place_call(OutboundCall(to=RECIPIENT, twiml="<Response><Say>Hi</Say></Response>"))
        return adapter.send_message(OutboundMessage(to=RECIPIENT, body="Hello from the contract"))

    def assert_no_secret(self, *texts: str) -> None:
        for text in texts:
            for name, value in self.secrets.items():
                assert value not in text, f"credential '{name}' leaked into: {text!r}"

    # ----- the contract

    def test_registered_by_default(self):
        assert get_registry().get(self.provider_class.name) is self.provider_class

    def test_validate_config_accepts_a_complete_configuration(self):
        config = self.config("https://api.example.com")
        self.provider_class.validate_config(config, self.secrets)

    def test_validate_config_reports_every_missing_field_at_once(self):
        with pytest.raises(ValidationError) as caught:
            self.provider_class.validate_config({}, {})
        assert set(caught.value.message_dict) == self.required_fields

    def test_validate_config_rejects_a_bad_url_and_keeps_other_errors(self):
        with pytest.raises(ValidationError) as caught:
            self.provider_class.validate_config({"base_url": "ftp://nowhere"}, {})
        assert "base_url" in caught.value.message_dict
        assert set(caught.value.message_dict) - {"base_url"} == self.required_fields - {"base_url"}

    def test_successful_operation(self, server, adapter):
        result = self.perform(adapter)
        provider_id = getattr(result, "provider_message_id", None) or result.provider_call_id
        assert provider_id == self.expected_provider_id
        assert result.latency_ms is not None and result.latency_ms >= 0
        [request] = server.requests_to(*self.operation)
        assert self.authorized(request)
        self.assert_operation_request(request)

    def test_server_error_is_retryable(self, server, adapter):
        server.queue(self.server_error_reply())
        with pytest.raises(ProviderUnavailable) as caught:
            self.perform(adapter)
        assert caught.value.retryable
        assert caught.value.status == 500

    def test_rate_limit_is_retryable(self, server, adapter):
        server.queue(self.rate_limit_reply())
        with pytest.raises(ProviderUnavailable):
            self.perform(adapter)

    def test_timeout_is_retryable_and_the_send_is_not_repeated(self, server, adapter):
        server.queue(Reply(delay=HANG_SECONDS, json={}))
        with pytest.raises(ProviderUnavailable) as caught:
            self.perform(adapter)
        assert caught.value.code == "timeout"
        assert len(server.requests_to(*self.operation)) == 1

    def test_malformed_json_is_retryable(self, server, adapter):
        server.queue(MALFORMED)
        with pytest.raises(ProviderUnavailable) as caught:
            self.perform(adapter)
        assert caught.value.code == "malformed_response"

    def test_connection_refused_is_retryable(self):
        adapter = self.make_adapter(unused_port_url(), connect_timeout=0.5)
        with pytest.raises(ProviderUnavailable) as caught:
            self.perform(adapter)
        assert caught.value.code == "connection_error"

    def test_bad_credentials_are_rejected_with_the_provider_code_and_fail_over(self, server):
        adapter = self.make_adapter(server.url)
        adapter.credentials = {name: value + "-WRONG" for name, value in self.secrets.items()}
        with pytest.raises(ProviderRejected) as caught:
            self.perform(adapter)
        assert caught.value.code == self.auth_error_code
        assert caught.value.fail_over is True
        assert not caught.value.retryable

    def test_recipient_error_is_rejected_without_fail_over(self, server, adapter):
        server.queue(self.recipient_error_reply())
        with pytest.raises(ProviderRejected) as caught:
            self.perform(adapter)
        assert caught.value.code == self.recipient_error_code
        assert caught.value.fail_over is False

    def test_connection_healthy(self, server, adapter):
        health = adapter.test_connection()
        assert health.status == HealthStatus.HEALTHY, health.detail
        assert health.latency_ms is not None
        assert server.requests_to(*self.health)

    def test_connection_reports_what_the_provider_says(self, server, adapter):
        server.route(*self.health, self.unhealthy_reply())
        health = adapter.test_connection()
        assert health.status in (HealthStatus.DOWN, HealthStatus.DEGRADED)
        assert health.detail

    def test_connection_down_when_unreachable(self):
        health = self.make_adapter(unused_port_url(), connect_timeout=0.5).test_connection()
        assert health.status == HealthStatus.DOWN
        assert "could not be reached" in health.detail

    def test_connection_down_on_bad_credentials(self, server):
        adapter = self.make_adapter(server.url)
        adapter.credentials = {name: value + "-WRONG" for name, value in self.secrets.items()}
        health = adapter.test_connection()
        assert health.status == HealthStatus.DOWN

    def test_no_credential_in_errors_or_logs(self, server, adapter, caplog):
        caplog.set_level(logging.DEBUG)
        texts: list[str] = []
        for reply in (self.server_error_reply(), self.rate_limit_reply(), self.recipient_error_reply(), MALFORMED):
            server.queue(reply)
            with pytest.raises(ProviderError) as caught:
                self.perform(adapter)
            texts += [str(caught.value), repr(caught.value), caught.value.message]
        # A provider that echoes the token back in its error must not get it into our message.
        echoed = " ".join(self.secrets.values())
        server.queue(Reply(status=400, json=self.echo_error_body(echoed)))
        with pytest.raises(ProviderError) as caught:
            self.perform(adapter)
        texts += [str(caught.value), repr(caught.value)]
        texts.append(adapter.test_connection().detail)
        texts.append(repr(adapter))
        texts += [record.getMessage() for record in caplog.records]
        self.assert_no_secret(*texts)

    def echo_error_body(self, text: str) -> dict[str, Any]:
        """An error body whose message contains ``text``, in this provider's error format."""
        raise NotImplementedError
