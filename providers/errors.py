"""What an adapter raises. The hierarchy is rooted in Django's own exceptions, so a
configuration error is an ``ImproperlyConfigured`` and a bad webhook a ``SuspiciousOperation``."""

from __future__ import annotations

from typing import Any, ClassVar

from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation


class ProviderError(Exception):
    """Root of what an adapter raises. ``code`` is the provider's own error code, if any.

    Messages must never contain credentials: adapters build them from the provider's answer,
    and the base class scrubs every known secret value out of them before they leave.
    """

    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, code: str | int | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = None if code is None else str(code)
        self.status = status

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}" if self.code else self.message


class ProviderConfigurationError(ProviderError, ImproperlyConfigured):
    """The integration's configuration cannot work (missing field, bad value)."""


class ProviderUnavailable(ProviderError):
    """Retryable: timeouts, connection errors, rate limits, 5xx. Delivery fails over."""

    retryable = True


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


class WebhookSignatureError(ProviderError, SuspiciousOperation):
    """A webhook request whose signature, token or timestamp does not check out."""
