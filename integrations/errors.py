"""What services refuse, with messages meant for the person who asked."""

from django.core.exceptions import ValidationError


class ServiceError(Exception):
    """Root of service refusals. ``code`` is stable for API clients."""

    code = "refused"

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class NotFound(ServiceError):
    code = "not_found"


class SwitchRefused(ServiceError):
    code = "switch_refused"


class OperationRefused(ServiceError):
    code = "refused"


class OutsideServiceWindow(ServiceError):
    """A free-form message to a contact whose 24-hour customer-service window is closed, where
    only official providers could carry it (docs/MESSAGING.md). The API answers 422."""

    code = "outside_service_window"
    http_status = 422


class IdempotencyKeyReused(ServiceError):
    """An idempotency key sent again with a different request (the API answers 422)."""

    code = "idempotency_key_reused"
    http_status = 422


__all__ = ["IdempotencyKeyReused", "NotFound", "OperationRefused", "OutsideServiceWindow", "ServiceError", "SwitchRefused",
           "ValidationError"]
