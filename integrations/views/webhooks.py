"""The providers' webhook endpoint: ``/webhooks/<integration id>/`` (URL name ``webhooks:receive``).

Thin on purpose: it turns the Django request into a ``WebhookRequest`` (raw body, headers,
query, form, and the absolute URL the provider called) and hands it to
``integrations.services.webhooks.webhook_receive``.

The absolute URL matters for Twilio, which signs it. ``request.build_absolute_uri()`` honours
``X-Forwarded-Proto`` / ``X-Forwarded-Host`` only when the proxy is trusted: ``TRUST_PROXY=true``
sets ``SECURE_PROXY_SSL_HEADER`` and ``USE_X_FORWARDED_HOST`` in settings. Untrusted, a client
cannot choose the URL we verify against.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from integrations.errors import NotFound
from integrations.services.webhooks import webhook_receive
from providers.values import WebhookRequest

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


def webhook_request_from(request: HttpRequest) -> WebhookRequest:
    body = request.body  # read first: the raw bytes are what providers sign
    form = {}
    if request.method == "POST" and request.content_type == FORM_CONTENT_TYPE:
        form = {name: values for name, values in request.POST.lists()}
    return WebhookRequest(
        method=request.method or "",
        url=request.build_absolute_uri(),
        headers=dict(request.headers.items()),
        body=body,
        query={name: values for name, values in request.GET.lists()},
        form=form,
    )


@csrf_exempt
@require_http_methods(["GET", "POST"])
def receive(request: HttpRequest, integration_id) -> HttpResponse:
    try:
        outcome = webhook_receive(integration_id=integration_id, request=webhook_request_from(request))
    except NotFound:
        raise Http404("No such webhook.") from None
    return HttpResponse(outcome.body, status=outcome.status, content_type=outcome.content_type)
