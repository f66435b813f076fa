"""What an adapter raises. The hierarchy is rooted in Django's own exceptions, so a
configuration error is an ``ImproperlyConfigured`` and a bad webhook a ``SuspiciousOperation``."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation

# What a tenant sees of a provider failure is at most this long.
MAX_MESSAGE_LENGTH = 300
MAX_CODE_LENGTH = 64
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_CODE_CHARACTERS = re.compile(r"[^A-Za-z0-9_.:-]+")
# Authorization values a provider might echo back ("Bearer …", "Basic …").
_AUTH_VALUES = re.compile(r"\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE)


def bounded_text(text: Any, limit: int = MAX_MESSAGE_LENGTH) -> str:
    """One line of printable text at most ``limit`` characters long, with no authorization
    value in it: what may be shown to a tenant, stored in a health detail or logged."""
    text = str(text).encode("utf-8", "replace").decode("utf-8")
    text = _AUTH_VALUES.sub(lambda match: f"{match.group(1)} ••••", text)
    text = " ".join(_CONTROL_CHARACTERS.sub(" ", text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def bounded_code(code: Any) -> str | None:
    if code is None:
        return None
    cleaned = _CODE_CHARACTERS.sub("", str(code))[:MAX_CODE_LENGTH]
    return cleaned or None


class ProviderError(Exception):
    """Root of what an adapter raises. ``code`` is the provider's own error code, if any.

    The message is what a tenant sees, so it is built from the status, the provider's
    documented error code and message, never a raw body. It is bounded here, centrally, for
    every error an adapter raises: one line, ``MAX_MESSAGE_LENGTH`` characters, authorization
    values removed; the provider base class also scrubs every credential of the integration
    out of it before it leaves the adapter.
    """

    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, code: str | int | None = None, status: int | None = None):
        message = bounded_text(message)
        super().__init__(message)
        self.message = message
        self.code = bounded_code(code)
        self.status = status if isinstance(status, int) and 100 <= status <= 599 else None

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}" if self.code else self.message


class ProviderConfigurationError(ProviderError, ImproperlyConfigured):
    """The integration's configuration cannot work (missing field, bad value)."""


class ProviderUnavailable(ProviderError):
    """Retryable: timeouts, connection errors, rate limits, 5xx. Delivery fails over."""

    retryable = True


class ProviderRateLimited(ProviderUnavailable):
    """The provider asks us to slow down (HTTP 429, Meta 130429, Twilio 20429…). Delivery paces
    the integration instead of counting it towards the circuit breaker; ``retry_after`` is the
    provider's ``Retry-After`` in seconds, when it sent one."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after if isinstance(retry_after, int | float) and retry_after > 0 else None


class ProviderRejected(ProviderError):
    """Final: the provider refused the request and would refuse it again.

    ``fail_over`` tells delivery whether another provider could succeed. It is true for
    refusals tied to this provider (its credentials were rejected, the account is suspended,
    the sender is not set up) and false for refusals that would happen anywhere (invalid
    recipient, body too long).
    """

    def __init__(self, message: str, *, fail_over: bool = False, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.fail_over = fail_over


class EgressRefused(ProviderRejected):
    """The egress guard refused a destination (see ``providers.egress``). Not retryable; it is
    tied to this integration's configuration, so another provider may well succeed."""

    def __init__(self, message: str, **kwargs: Any):
        kwargs.setdefault("code", "egress_refused")
        kwargs.setdefault("fail_over", True)
        super().__init__(message, **kwargs)


class WebhookSignatureError(ProviderError, SuspiciousOperation):
    """A webhook request whose signature, token or timestamp does not check out."""
