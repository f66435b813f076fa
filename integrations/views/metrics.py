"""``/metrics`` for Prometheus, behind a bearer token.

Closed unless the operator sets ``METRICS_TOKEN``: without it the path answers 404 as if it did
not exist. With it, a scrape must send ``Authorization: Bearer <token>`` (401 otherwise).
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import Http404, HttpResponse
from django.views.decorators.http import require_GET

from integrations.services import metrics


def _bearer(request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


@require_GET
def metrics_view(request):
    expected = settings.METRICS_TOKEN
    if not expected:
        raise Http404
    if not hmac.compare_digest(_bearer(request).encode(), expected.encode()):
        response = HttpResponse("A valid bearer token is required.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body, content_type = metrics.exposition()
    return HttpResponse(body, content_type=content_type)
