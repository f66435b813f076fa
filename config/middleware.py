"""Project-wide middleware."""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from django.http import JsonResponse

from integrations.api.errors import error_body

logger = logging.getLogger(__name__)

# Seconds a client should wait before retrying; a dropped connection is replaced on the next request.
DATABASE_RETRY_AFTER_SECONDS = 5


class DatabaseUnavailableMiddleware:
    """A lost or refused database connection answers 503 in the API's error shape, not a 500 page.

    Django raises ``OperationalError`` / ``InterfaceError`` for a dropped or refused connection,
    and also for the other errors a retry can cure (deadlock, serialization failure, statement
    timeout); all answer 503 with ``Retry-After``. The connection that failed is discarded at the end of the request (Django closes a
    connection that had errors and is no longer usable), and ``CONN_HEALTH_CHECKS`` replaces a
    stale one at the start of the next, so the service recovers without a restart. Only the
    exception's type is logged: a driver's message can carry the connection string.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.error("Database unavailable during %s %s (%s); answered 503.",
                     request.method, request.path, type(exception).__name__)
        response = JsonResponse(
            error_body(code="database_unavailable",
                       detail="The database is unavailable at the moment; retry shortly."),
            status=503,
        )
        response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
        return response
