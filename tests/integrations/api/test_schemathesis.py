"""Schema-driven fuzzing: schemathesis generates requests for every operation in /api/schema/
and calls the real WSGI application (real PostgreSQL and Redis behind it).

No response may be a server error, and every response must match the schema: documented status
code, content type, headers and body. The number of examples per operation is bounded so the
suite stays fast; raise ``SCHEMATHESIS_MAX_EXAMPLES`` for a deeper local run.
"""

from __future__ import annotations

import os

import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "15"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]



class InTransactionWSGIApp:
    """The real WSGI handler, minus the connection closing at request end.

    Django closes the database connection when a request finishes; inside a test that would
    end the test's transaction. Django's own test client disconnects the same signal handler.
    """

    def __init__(self):
        self.handler = WSGIHandler()

    def __call__(self, environ, start_response):
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            response = self.handler(environ, start_response)
            body = b"".join(response)
            response.close()
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)
        return [body]


schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", InTransactionWSGIApp())
# Methods a route does not serve answer 405 from DRF; the isolation matrix already walks every
# served one, so the coverage phase spends its budget on parameter boundaries instead.
schema.config.phases.coverage.unexpected_methods = set()


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms_to_its_schema(case, tenant_a, recorded_responses):
    token, _ = Token.objects.get_or_create(user=tenant_a.admin)
    response = case.call_and_validate(headers={"Authorization": f"Token {token.key}"}, checks=CHECKS)
    recorded_responses.append((f"{case.method} {case.formatted_path}", response.content))
