"""The provider plugin contract.

A provider *class* describes a vendor (name, channel, config fields, pricing); a provider
*instance* is bound to one integration's configuration and credentials. Nothing here touches
the database: adapters get everything handed in by the caller.

Subclasses fill in small steps; the base class owns the public operations:

====================  ======================  =============================================
public operation      step a subclass writes  what the base adds
====================  ======================  =============================================
send_message          deliver_message         attachment checks, time budget, timing, errors
                                              scrubbed, an unreadable answer an outage
place_call            dial                    the same
test_connection       check_health            time budget, timing, any error a "down" health
authenticate_webhook  verify_webhook          an odd request is a refusal, never a crash
webhook_events        parse_webhook           an unreadable body is "malformed"; every field
                                              bounded to its column (providers.inbound)
answer_handshake      handshake               an odd request is a refusal
setup / teardown      setup / teardown        optional, default does nothing
====================  ======================  =============================================

``send_message`` also checks templates and interactive messages (declared, well formed, alone).
Optional operations, each behind a feature name (``providers.features``) the class declares,
live in ``providers.operations`` (the registry refuses a class that declares a feature without
its step): ``list_templates`` / ``download_media`` (WhatsApp), ``hangup`` / ``fetch_call`` /
``continue_call`` (VoIP).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, ClassVar
from urllib.parse import quote

from django.core.exceptions import ValidationError

from providers import events
from providers.config import COMMON_FIELDS, ConfigField, validate_settings
from providers.deadlines import deadline
from providers.errors import (
    ProviderConfigurationError,
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
    WebhookSignatureError,
    bounded_text,
)
from providers.inbound import clean_events
from providers.operations import CallOperations, MessagingOperations
from providers.pricing import PriceModel
from providers.values import (
    CallResult,
    Channel,
    HealthStatus,
    InboundEvent,
    OutboundCall,
    OutboundMessage,
    ProviderHealth,
    SendResult,
    Stability,
    WebhookRequest,
    WebhookResponse,
)

logger = logging.getLogger(__name__)


class Provider:
    """Base of every provider. Subclass one of the channel bases below, not this one."""

    name: ClassVar[str]
    channel: ClassVar[Channel]
    display_name: ClassVar[str]
    official: ClassVar[bool] = True
    stability: ClassVar[Stability] = Stability.HIGH
    description: ClassVar[str] = ""
    config_fields: ClassVar[tuple[ConfigField, ...]] = ()
    pricing: ClassVar[PriceModel]
    features: ClassVar[frozenset[str]] = frozenset()
    # Sends per second the provider accepts by default (its documentation), used when an
    # integration's ``send_rate_limit`` is empty; 0 = no limit (self-hosted bridges, simulations).
    default_send_rate_limit: ClassVar[float] = 0
    # In-process simulations (the sandbox): registered only where the operator enables them.
    simulated: ClassVar[bool] = False
    # The operations the registry requires a concrete class to implement.
    required_operations: ClassVar[tuple[str, ...]] = ("check_health", "parse_webhook", "verify_webhook")

    def __init__(
        self,
        *,
        config: Mapping[str, Any] | None = None,
        credentials: Mapping[str, Any] | None = None,
        webhook_secret: str = "",
        webhook_url: str = "",
    ):
        self.config = dict(config or {})
        self.credentials = dict(credentials or {})
        self.webhook_secret = webhook_secret
        self.webhook_url = webhook_url

    def __repr__(self) -> str:  # never show credentials, not even in a traceback
        return f"<{type(self).__name__} {self.name}>"

    @classmethod
    def supports(cls, feature: str) -> bool:
        return feature in cls.features

    def require(self, feature: str, what: str) -> None:
        """Refuse an optional operation this provider does not declare: another provider may."""
        if not self.supports(feature):
            raise ProviderRejected(f"{self.display_name} cannot {what}.", code=events.ERROR_UNSUPPORTED, fail_over=True)

    # ----- description helpers

    @classmethod
    def secret_field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in cls.config_fields if f.secret)

    @classmethod
    def setting_field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in cls.config_fields if not f.secret)

    @classmethod
    def destination_field_names(cls) -> tuple[str, ...]:
        """Fields that decide where requests, and so the credentials, are sent (a base URL):
        a change to one of them must come with every secret again."""
        return tuple(f.name for f in cls.config_fields if f.destination)

    @classmethod
    def all_config_fields(cls) -> tuple[ConfigField, ...]:
        """The provider's fields, then the settings every integration may carry
        (``providers.config.COMMON_FIELDS``) that the provider does not declare itself."""
        own = {f.name for f in cls.config_fields}
        return cls.config_fields + tuple(f for f in COMMON_FIELDS if f.name not in own)

    # ----- configuration

    @classmethod
    def validate_config(
        cls, config: Mapping[str, Any], credentials: Mapping[str, Any] | None = None
    ) -> None:
        """Check configuration without touching the network: the one validator every face uses.

        Raises ``ValidationError`` with a dict of field name → messages, every error at once:
        what ``providers.config.validate_settings`` finds from the fields (unknown or
        secret-looking keys, kinds, bounds, sizes, price overrides), then the subclass's
        cross-field checks in ``clean_config`` on the values that passed.
        """
        credentials = {} if credentials is None else credentials
        errors = validate_settings(cls.all_config_fields(), config, credentials, price_model=cls.pricing)
        if isinstance(config, Mapping) and isinstance(credentials, Mapping) and not {"config", "credentials"} & set(errors):
            passed = {key: value for key, value in config.items() if key not in errors}
            try:
                extra = cls.clean_config(passed, credentials)
            except Exception:  # a check that trips over a value must refuse it, not crash
                logger.exception("%s.clean_config raised", cls.__name__)
                extra = {"config": "This configuration could not be checked."}
            for name, message in extra.items():
                errors.setdefault(name, []).append(message)
        if errors:
            raise ValidationError(errors)

    @classmethod
    def clean_config(cls, config: Mapping[str, Any], credentials: Mapping[str, Any]) -> dict[str, str]:
        """Hook for cross-field checks; returns field name → message."""
        return {}

    def setting(self, name: str, default: Any = None) -> Any:
        """A non-secret setting, falling back to the field's declared default."""
        if name in self.config and self.config[name] not in (None, ""):
            return self.config[name]
        for config_field in self.config_fields:
            if config_field.name == name and config_field.default is not None:
                return config_field.default
        return default

    @classmethod
    def send_rate_limit(cls, config: Mapping[str, Any]) -> float:
        """Sends per second for an integration with this ``config``: its ``send_rate_limit``, else
        the provider's default. 0 means unlimited."""
        value = (config or {}).get("send_rate_limit") if isinstance(config, Mapping) else None
        if value in (None, ""):
            return float(cls.default_send_rate_limit)
        try:
            return max(float(value), 0.0)
        except (TypeError, ValueError):
            return float(cls.default_send_rate_limit)

    def secret(self, name: str) -> str:
        value = self.credentials.get(name)
        if not value:
            raise ProviderConfigurationError(f"Credential '{name}' is not set.")
        return str(value)

    def scrub(self, text: str) -> str:
        """Remove every credential value from a text meant for logs, errors or users."""
        for value in list(self.credentials.values()) + [self.webhook_secret]:
            if isinstance(value, str) and len(value) >= 4:
                text = text.replace(value, "••••").replace(quote(value, safe=""), "••••")
        return text

    def _unreadable(self, exc: Exception) -> ProviderUnavailable:
        """An adapter step that raised something other than a ``ProviderError``: most often an
        answer of a shape the adapter did not expect. Logged with its traceback (it may be our
        bug); the caller sees a provider outage with a bounded message, as for malformed JSON."""
        logger.warning("%s raised %s", type(self).__name__, type(exc).__name__, exc_info=True)
        return ProviderUnavailable(
            f"{self.display_name}: the answer could not be read ({type(exc).__name__}).", code="malformed_response"
        )

    def _scrubbed(self, exc: ProviderError) -> ProviderError:
        exc.message = self.scrub(exc.message)
        exc.args = (exc.message,)
        return exc

    # ----- operations

    def operation_budget(self) -> float | None:
        """Seconds one public operation may take in all; None leaves it to the adapter."""
        return None

    def _within_budget(self):
        budget = self.operation_budget()
        return deadline(budget) if budget is not None else contextlib.nullcontext()

    def timed(self, step: Any, *args: Any, **kwargs: Any) -> tuple[Any, int]:
        """Run a step within the operation's time budget: (its result, milliseconds). Errors
        leave scrubbed; an exception that is not a ``ProviderError`` is an unreadable answer."""
        started = time.perf_counter()
        try:
            with self._within_budget():
                result = step(*args, **kwargs)
        except ProviderError as exc:
            raise self._scrubbed(exc) from None
        except Exception as exc:
            raise self._unreadable(exc) from None
        return result, _elapsed_ms(started)

    def test_connection(self) -> ProviderHealth:
        """Call the provider's cheapest read endpoint and report health. Never raises: any
        exception (an answer of an unexpected shape included) is a "down" health whose detail
        is bounded and scrubbed, so one integration's failure is only its own."""
        started = time.perf_counter()
        try:
            with self._within_budget():
                health = self.check_health()
        except ProviderError as exc:
            return ProviderHealth(status=HealthStatus.DOWN, latency_ms=_elapsed_ms(started), detail=self.scrub(str(exc)))
        except Exception as exc:
            logger.warning("%s health check raised %s", self.name, type(exc).__name__, exc_info=True)
            return ProviderHealth(
                status=HealthStatus.DOWN,
                latency_ms=_elapsed_ms(started),
                detail=f"The health check failed: the provider's answer could not be read ({type(exc).__name__}).",
            )
        return ProviderHealth(
            status=health.status,
            latency_ms=_elapsed_ms(started) if health.latency_ms is None else health.latency_ms,
            detail=self.scrub(bounded_text(health.detail)),
            extra=health.extra,
        )

    def check_health(self) -> ProviderHealth:
        raise NotImplementedError(f"{type(self).__name__} must implement check_health()")

    def setup(self) -> None:
        """Prepare the provider side (register webhooks, start a session). Default: nothing."""

    def teardown(self) -> None:
        """Undo ``setup``. Default: nothing."""

    def verify_webhook(self, request: WebhookRequest) -> None:
        """Raise ``WebhookSignatureError`` unless the request is authentic."""
        raise NotImplementedError(f"{type(self).__name__} must implement verify_webhook()")

    def parse_webhook(self, request: WebhookRequest) -> list[InboundEvent]:
        raise NotImplementedError(f"{type(self).__name__} must implement parse_webhook()")

    def handshake(self, request: WebhookRequest) -> WebhookResponse | None:
        """Answer a provider's GET verification handshake; None means "not supported"."""
        return None

    # ----- webhooks as the webhook endpoint calls them: anything odd is a refusal, never a crash

    def authenticate_webhook(self, request: WebhookRequest) -> None:
        """``verify_webhook``; a request it trips over (a header of an unexpected form, a
        timestamp of 400 digits) is refused like a bad signature."""
        try:
            self.verify_webhook(request)
        except WebhookSignatureError:
            raise
        except Exception as exc:
            logger.info("%s webhook verification raised %s", self.name, type(exc).__name__, exc_info=True)
            raise WebhookSignatureError(f"{self.display_name} webhook could not be verified.") from None

    def answer_handshake(self, request: WebhookRequest) -> WebhookResponse | None:
        try:
            return self.handshake(request)
        except WebhookSignatureError:
            raise
        except Exception as exc:
            logger.info("%s webhook handshake raised %s", self.name, type(exc).__name__, exc_info=True)
            raise WebhookSignatureError(f"{self.display_name} verification handshake could not be read.") from None

    def webhook_events(self, request: WebhookRequest) -> list[InboundEvent]:
        """``parse_webhook``, then every event made safe to store (``providers.inbound``). A body
        the parser cannot read, whatever it raises, is ``ProviderRejected`` (code "malformed")."""
        try:
            parsed = self.parse_webhook(request)
        except ProviderError as exc:
            raise self._scrubbed(exc) from None
        except Exception as exc:
            logger.info("%s webhook parser raised %s", self.name, type(exc).__name__, exc_info=True)
            raise ProviderRejected(f"{self.display_name} webhook body could not be read.", code="malformed") from None
        return clean_events(parsed, provider=self.display_name)

    def lookup_sent(self, client_reference: str) -> str | None:
        """The provider's id of a message or call already sent with this client reference.

        Delivery asks this before re-sending a row whose worker died mid-send, so a provider
        that can answer gets exactly-once redelivery. None means "not sent" or "cannot tell";
        the default cannot tell. Raise ``ProviderError`` if the lookup itself failed.
        """
        return None


class WhatsAppProvider(MessagingOperations, Provider):
    channel = Channel.WHATSAPP
    required_operations = Provider.required_operations + ("deliver_message",)
    # Attachment kinds this provider can send; an empty set means text only.
    attachment_kinds: ClassVar[frozenset[str]] = frozenset()
    max_body_length: ClassVar[int] = 4096

    def send_message(self, message: OutboundMessage) -> SendResult:
        self.check_message(message)
        result, elapsed = self.timed(self.deliver_message, message)
        return result if result.latency_ms is not None else _with_latency(result, elapsed)

    def check_message(self, message: OutboundMessage) -> None:
        if message.template is not None or message.interactive is not None:
            self.check_business_message(message)
            return
        if not message.body and not message.attachments:
            raise ProviderRejected("A message needs a body or an attachment.", code="empty")
        if len(message.body) > self.max_body_length:
            raise ProviderRejected(
                f"The body is {len(message.body)} characters; {self.display_name} accepts "
                f"at most {self.max_body_length}.",
                code="body_too_long",
            )
        for attachment in message.attachments:
            if attachment.kind not in self.attachment_kinds:
                raise ProviderRejected(
                    f"{self.display_name} cannot send {attachment.kind} attachments.",
                    code="unsupported_attachment",
                )

    def deliver_message(self, message: OutboundMessage) -> SendResult:
        raise NotImplementedError(f"{type(self).__name__} must implement deliver_message()")


class VoipProvider(CallOperations, Provider):
    channel = Channel.VOIP
    required_operations = Provider.required_operations + ("dial",)

    def place_call(self, call: OutboundCall) -> CallResult:
        result, elapsed = self.timed(self.dial, call)
        return result if result.latency_ms is not None else _with_latency(result, elapsed)

    def dial(self, call: OutboundCall) -> CallResult:
        raise NotImplementedError(f"{type(self).__name__} must implement dial()")


def _elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def _with_latency(result: Any, latency_ms: int) -> Any:
    return replace(result, latency_ms=latency_ms)
