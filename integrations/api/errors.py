"""One JSON shape for every API error: ``{"code", "detail", "errors"}``.

``code`` is stable and machine-readable, ``detail`` is a sentence for a person, ``errors`` maps
field names to lists of messages (empty unless the request failed validation). The frontend's
legacy routes read ``detail``, which is why the human message is called that.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from integrations.errors import NotFound, ServiceError
from integrations.services.integrations import CREDENTIALS_REQUIRED

NON_FIELD = "non_field_errors"
# Codes a service gives its ValidationError that API clients act on (the rest are "invalid").
SERVICE_VALIDATION_CODES = frozenset({CREDENTIALS_REQUIRED})


def _django_validation_to_drf(exc: DjangoValidationError) -> exceptions.ValidationError:
    if hasattr(exc, "error_dict"):
        return exceptions.ValidationError({field: list(messages) for field, messages in exc.message_dict.items()})
    return exceptions.ValidationError({NON_FIELD: list(exc.messages)})


def _shared_code(exc: DjangoValidationError) -> str:
    """The code every error of a service's ``ValidationError`` shares (``credentials_required``),
    else "invalid"."""
    errors = [error for errors in exc.error_dict.values() for error in errors] if hasattr(exc, "error_dict") else exc.error_list
    codes = {getattr(error, "code", None) for error in errors}
    code = codes.pop() if len(codes) == 1 else None
    return code if code in SERVICE_VALIDATION_CODES else "invalid"


def _field_errors(data: Any) -> dict[str, Any]:
    if isinstance(data, dict):
        return {str(key): value if isinstance(value, list | dict) else [value] for key, value in data.items()}
    if isinstance(data, list):
        return {NON_FIELD: data}
    return {NON_FIELD: [data]}


def _first_message(errors: dict[str, Any]) -> str:
    for field, messages in errors.items():
        first = messages[0] if isinstance(messages, list) and messages else messages
        if isinstance(first, dict):
            return _first_message(first)
        return str(first) if field == NON_FIELD else f"{field}: {first}"
    return _("The request is invalid.")


def error_body(*, code: str, detail: str, errors: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": code, "detail": detail, "errors": errors or {}}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler (status, ``WWW-Authenticate``, ``Retry-After``), then our body shape.

    Service refusals (``ServiceError``) answer their own ``http_status`` when they have one
    (``OutsideServiceWindow``: 422), else 409 or what the view's ``refusal_status_code`` says
    (the legacy frontend routes expect 400).
    """
    view = context.get("view")
    validation_code = "invalid"
    if isinstance(exc, DjangoValidationError):
        validation_code = _shared_code(exc)
        exc = _django_validation_to_drf(exc)
    if isinstance(exc, NotFound):
        return Response(error_body(code="not_found", detail=exc.message), status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, RequestDataTooBig):
        # Django refuses to read a body over DATA_UPLOAD_MAX_MEMORY_SIZE; left to Django this
        # would be an HTML 400 page.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response(error_body(code="request_too_large", detail=_("The request body is larger than %(limit)s bytes.") % {"limit": limit}),
                        status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, ServiceError):
        code = getattr(exc, "http_status", None) or getattr(view, "refusal_status_code", status.HTTP_409_CONFLICT)
        return Response(error_body(code=exc.code, detail=exc.message), status=code)

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = _field_errors(response.data)
        response.data = error_body(code=validation_code, detail=_first_message(errors), errors=errors)
        return response
    if isinstance(exc, Http404):
        response.data = error_body(code="not_found", detail=_("Not found."))
        return response
    if isinstance(exc, DjangoPermissionDenied):
        response.data = error_body(code="permission_denied", detail=_("You do not have permission to perform this action."))
        return response
    detail = getattr(exc, "detail", None)
    codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else None
    code = codes if isinstance(codes, str) else getattr(exc, "default_code", "error")
    response.data = error_body(code=str(code), detail=str(detail) if detail is not None else _("Error."))
    return response
