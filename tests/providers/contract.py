"""The contract every provider passes.

``ProviderContract`` holds what is true of any provider, including the in-process sandbox:
registration, config validation, a successful operation, each kind of failure mapped to the
right error, ``test_connection`` healthy and not, and no credential in any error text or log
record. ``HttpProviderContract`` adds what an HTTP adapter must do against a loopback server
that plays the provider's API: authentication, rate limits, timeouts, malformed answers,
connection failures.

A provider's test class subclasses one of them and fills in the hooks (how its API looks,
how to provoke each failure); the tests themselves are shared.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import pytest
from django.core.exceptions import ValidationError

from providers.base import Provider, VoipProvider
from providers.errors import (
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)
from providers.registry import get_registry
from providers.values import HealthStatus, OutboundCall, OutboundMessage
from tests.providers.loopback import MALFORMED, LoopbackServer, Recorded, Reply, unused_port_url

RECIPIENT = "+14155550123"
# How long the loopback server stalls in the timeout test, where the adapter's read timeout is
# TIMEOUT_TEST_READ_SECONDS. Every other test gets a read budget a busy CI machine cannot miss:
# the read timeout bounds the whole request's wall time, so 0.3 s failed whenever a run paused.
HANG_SECONDS = 3.0
TIMEOUT_TEST_READ_SECONDS = 0.3
READ_SECONDS = 5


class ProviderContract:
    provider_class: ClassVar[type[Provider]]
    # Values that must never show up in an error or a log line.
    secrets: ClassVar[dict[str, str]]
    # Field names validate_config must report for an empty configuration.
    required_fields: ClassVar[set[str]]
    auth_error_code: ClassVar[str]
    recipient_error_code: ClassVar[str]

    # ----- hooks

    def valid_config(self) -> dict[str, Any]:
        raise NotImplementedError

    @pytest.fixture
    def adapter(self) -> Provider:
        raise NotImplementedError

    def fail_next(self, adapter: Provider, kind: str) -> None:
        """Make the next operation fail: "unavailable", "provider_refusal" (bad credentials or
        account) or "recipient_refusal"."""
        raise NotImplementedError

    def make_unhealthy(self, adapter: Provider) -> None:
        raise NotImplementedError

    def check_success(self, adapter: Provider, result: Any) -> None:
        raise NotImplementedError

    # ----- shared plumbing

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
        self.provider_class.validate_config(self.valid_config(), self.secrets)

    def test_validate_config_reports_every_missing_field_at_once(self):
        if not self.required_fields:
            self.provider_class.validate_config({}, {})
            return
        with pytest.raises(ValidationError) as caught:
            self.provider_class.validate_config({}, {})
        assert set(caught.value.message_dict) == self.required_fields

    def test_secret_fields_are_the_credentials(self):
        assert set(self.provider_class.secret_field_names()) >= set(self.secrets)

    def test_successful_operation(self, adapter):
        result = self.perform(adapter)
        assert result.latency_ms is not None and result.latency_ms >= 0
        self.check_success(adapter, result)

    def test_outage_is_retryable(self, adapter):
        self.fail_next(adapter, "unavailable")
        with pytest.raises(ProviderUnavailable) as caught:
            self.perform(adapter)
        assert caught.value.retryable

    def test_provider_refusal_is_final_and_fails_over(self, adapter):
        self.fail_next(adapter, "provider_refusal")
        with pytest.raises(ProviderRejected) as caught:
            self.perform(adapter)
        assert caught.value.code == self.auth_error_code
        assert caught.value.fail_over is True
        assert not caught.value.retryable

    def test_recipient_refusal_is_final_without_fail_over(self, adapter):
        self.fail_next(adapter, "recipient_refusal")
        with pytest.raises(ProviderRejected) as caught:
            self.perform(adapter)
        assert caught.value.code == self.recipient_error_code
        assert caught.value.fail_over is False

    def test_connection_healthy(self, adapter):
        health = adapter.test_connection()
        assert health.status == HealthStatus.HEALTHY, health.detail
        assert health.latency_ms is not None

    def test_connection_reports_what_the_provider_says(self, adapter):
        self.make_unhealthy(adapter)
        health = adapter.test_connection()
        assert health.status in (HealthStatus.DOWN, HealthStatus.DEGRADED)
        assert health.detail

    def test_no_credential_in_errors_or_logs(self, adapter, caplog):
        caplog.set_level(logging.DEBUG)
        texts: list[str] = []
        for kind in ("unavailable", "recipient_refusal", "provider_refusal"):
            self.fail_next(adapter, kind)
            with pytest.raises(ProviderError) as caught:
                self.perform(adapter)
            texts += [str(caught.value), repr(caught.value), caught.value.message]
        texts.append(adapter.test_connection().detail)
        texts.append(repr(adapter))
        texts += [record.getMessage() for record in caplog.records]
        self.assert_no_secret(*texts)


class HttpProviderContract(ProviderContract):
    # The operation (send / call) and the health read, as (method, path).
    operation: ClassVar[tuple[str, str]]
    health: ClassVar[tuple[str, str]]
    expected_provider_id: ClassVar[str]
    # A 2xx whose body cannot be read is retryable by default. Where a 2xx proves the message
    # went out (a bridge has already sent it), retrying would deliver it twice: the adapter
    # must report it sent with an empty id instead.
    unreadable_2xx_is_sent: ClassVar[bool] = False

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

    def echo_error_body(self, text: str) -> dict[str, Any]:
        """An error body whose message contains ``text``, in this provider's error format."""
        raise NotImplementedError

    def assert_operation_request(self, request: Recorded) -> None:
        """Check the request the adapter built for the standard operation."""
        raise NotImplementedError

    # ----- the core hooks, over HTTP

    def valid_config(self) -> dict[str, Any]:
        return self.config("https://api.example.com")

    @pytest.fixture
    def server(self):
        with LoopbackServer(authorize=self.authorized, unauthorized=self.unauthorized_reply()) as server:
            server.route(*self.operation, self.success_reply())
            server.route(*self.health, self.healthy_reply())
            self.install_routes(server)
            yield server

    def install_routes(self, server: LoopbackServer) -> None:
        """More of the provider's API a test class serves from the start (default: none)."""

    def make_adapter(self, base_url: str, **overrides: Any) -> Provider:
        config = {**self.config(base_url), "connect_timeout": 1, "read_timeout": READ_SECONDS, **overrides}
        return self.provider_class(
            config=config,
            credentials=dict(self.secrets),
            webhook_secret="whsec-CONTRACT-0123456789",
            webhook_url="https://switchboard.example.com/webhooks/00000000-0000-0000-0000-000000000000/",
        )

    @pytest.fixture
    def adapter(self, server):
        adapter = self.make_adapter(server.url)
        adapter.loopback = server
        return adapter

    def fail_next(self, adapter, kind):
        if kind == "unavailable":
            adapter.loopback.queue(self.server_error_reply())
        elif kind == "recipient_refusal":
            adapter.loopback.queue(self.recipient_error_reply())
        elif kind == "provider_refusal":
            adapter.credentials = {name: value + "-WRONG" for name, value in self.secrets.items()}

    def make_unhealthy(self, adapter):
        adapter.loopback.route(*self.health, self.unhealthy_reply())

    def check_success(self, adapter, result):
        provider_id = getattr(result, "provider_message_id", None) or result.provider_call_id
        assert provider_id == self.expected_provider_id
        [request] = adapter.loopback.requests_to(*self.operation)
        assert self.authorized(request)
        self.assert_operation_request(request)

    # ----- HTTP specifics

    def test_validate_config_rejects_a_bad_url_and_keeps_other_errors(self):
        with pytest.raises(ValidationError) as caught:
            self.provider_class.validate_config({"base_url": "ftp://nowhere"}, {})
        assert "base_url" in caught.value.message_dict
        assert set(caught.value.message_dict) - {"base_url"} == self.required_fields - {"base_url"}

    def test_server_error_is_retryable(self, server, adapter):
        server.queue(self.server_error_reply())
        with pytest.raises(ProviderUnavailable) as caught:
            self.perform(adapter)
        assert caught.value.status == 500

    def test_rate_limit_is_retryable_and_says_slow_down(self, server, adapter):
        server.queue(self.rate_limit_reply())
        with pytest.raises(ProviderUnavailable) as caught:
            self.perform(adapter)
        # Delivery paces the integration instead of counting an outage on either sign.
        assert isinstance(caught.value, ProviderRateLimited) or caught.value.status == 429

    def test_timeout_is_retryable_and_the_send_is_not_repeated(self, server):
        adapter = self.make_adapter(server.url, read_timeout=TIMEOUT_TEST_READ_SECONDS)
        adapter.loopback = server
        server.queue(Reply(delay=HANG_SECONDS, json={}))
        with pytest.raises(ProviderUnavailable) as caught:
            self.perform(adapter)
        assert caught.value.code == "timeout"
        assert len(server.requests_to(*self.operation)) == 1

    def test_malformed_2xx_answer(self, server, adapter):
        server.queue(MALFORMED)
        if self.unreadable_2xx_is_sent:
            result = self.perform(adapter)
            assert getattr(result, "provider_message_id", None) == ""
            assert len(server.requests_to(*self.operation)) == 1
            return
        with pytest.raises(ProviderUnavailable) as caught:
            self.perform(adapter)
        assert caught.value.code == "malformed_response"

    def test_connection_refused_is_retryable(self):
        adapter = self.make_adapter(unused_port_url(), connect_timeout=0.5)
        with pytest.raises(ProviderUnavailable) as caught:
            self.perform(adapter)
        assert caught.value.code == "connection_error"

    def test_health_read_is_authenticated(self, server, adapter):
        adapter.test_connection()
        [request] = server.requests_to(*self.health)
        assert self.authorized(request)

    def test_connection_down_when_unreachable(self):
        health = self.make_adapter(unused_port_url(), connect_timeout=0.5).test_connection()
        assert health.status == HealthStatus.DOWN
        assert "could not be reached" in health.detail

    def test_connection_down_on_bad_credentials(self, server, adapter):
        self.fail_next(adapter, "provider_refusal")
        assert adapter.test_connection().status == HealthStatus.DOWN

    def test_no_credential_echoed_by_the_provider_reaches_our_errors(self, server, adapter, caplog):
        caplog.set_level(logging.DEBUG)
        texts = []
        replies = [self.rate_limit_reply(), Reply(status=400, json=self.echo_error_body(" ".join(self.secrets.values())))]
        if not self.unreadable_2xx_is_sent:
            replies.append(MALFORMED)
        for reply in replies:
            server.queue(reply)
            with pytest.raises(ProviderError) as caught:
                self.perform(adapter)
            texts += [str(caught.value), repr(caught.value)]
        texts += [record.getMessage() for record in caplog.records]
        self.assert_no_secret(*texts)

    # ----- hostile configuration and answers (the tenant and the network are untrusted)

    def test_validate_config_refuses_a_base_url_the_egress_guard_refuses(self, settings):
        settings.PROVIDER_EGRESS_ALLOWLIST = ["bridge.internal"]
        for url in ("http://169.254.169.254/latest/meta-data", "https://10.0.0.8", "http://api.example.com"):
            with pytest.raises(ValidationError) as caught:
                self.provider_class.validate_config({**self.valid_config(), "base_url": url}, self.secrets)
            assert set(caught.value.message_dict) == {"base_url"}, url

    def test_validate_config_refuses_secrets_and_unknown_keys_in_config(self):
        with pytest.raises(ValidationError) as caught:
            self.provider_class.validate_config({**self.valid_config(), **self.secrets, "surprise": 1}, self.secrets)
        assert set(caught.value.message_dict) == set(self.secrets) | {"surprise"}

    def test_an_operation_never_reaches_an_internal_address(self, server):
        adapter = self.make_adapter(server.url.replace("127.0.0.1", "127.0.0.2"))
        with pytest.raises(ProviderRejected) as caught:
            self.perform(adapter)
        assert caught.value.code == "egress_refused" and caught.value.fail_over
        assert adapter.test_connection().status == HealthStatus.DOWN
        assert server.requests == []

    @pytest.mark.parametrize("answer", [[1, 2, 3], "text", None, 0])
    def test_an_answer_of_any_shape_is_an_error_or_a_health_never_an_exception(self, server, adapter, answer):
        server.route(*self.health, Reply(json=answer))
        server.route(*self.operation, Reply(json=answer))
        assert adapter.test_connection().status in (HealthStatus.DOWN, HealthStatus.DEGRADED, HealthStatus.HEALTHY)
        if self.unreadable_2xx_is_sent:  # the message went out: sent, with no id to read
            assert getattr(self.perform(adapter), "provider_message_id", None) == ""
            return
        with pytest.raises(ProviderError) as caught:
            self.perform(adapter)
        assert caught.value.code == "malformed_response"

    def test_an_error_message_is_bounded(self, server, adapter):
        server.queue(Reply(status=400, json=self.echo_error_body("z" * 20_000)))
        with pytest.raises(ProviderError) as caught:
            self.perform(adapter)
        assert len(str(caught.value)) <= 320
