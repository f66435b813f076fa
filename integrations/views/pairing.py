"""Staff JSON view behind the WhatsApp Web pairing snippet (templates/integrations/_pairing_qr.html).

GET returns the bridge session state and, while it waits for a scan, the QR image; POST starts
the session (creating it with our webhook URL and HMAC key) and returns the state after.
"""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from integrations.errors import NotFound, OperationRefused
from integrations.selectors.integrations import administered_integration
from integrations.services.pairing import integration_pairing_state, integration_session_start


@never_cache
@staff_member_required
@require_http_methods(["GET", "POST"])
def integration_pairing(request: HttpRequest, integration_id) -> JsonResponse:
    try:
        integration = administered_integration(user=request.user, integration_id=integration_id)
        if request.method == "POST":
            return JsonResponse(integration_session_start(integration=integration, actor=request.user))
        return JsonResponse(integration_pairing_state(integration=integration))
    except NotFound:
        raise Http404("No such integration.") from None
    except OperationRefused as exc:
        return JsonResponse({"error": exc.message, "code": exc.code}, status=400)
