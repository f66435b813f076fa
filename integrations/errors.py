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


__all__ = ["NotFound", "OperationRefused", "ServiceError", "SwitchRefused", "ValidationError"]
