"""Staff JSON view polled by the WhatsApp Web pairing snippet (templates/integrations/_pairing_qr.html)."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from integrations.services.errors import NotFound, OperationRefused
from integrations.services.pairing import integration_pairing_state, pairing_integration_for_admin


@never_cache
@staff_member_required
@require_GET
def integration_pairing(request: HttpRequest, integration_id) -> JsonResponse:
    try:
        integration = pairing_integration_for_admin(user=request.user, integration_id=integration_id)
        return JsonResponse(integration_pairing_state(integration=integration))
    except NotFound:
        raise Http404("No such integration.") from None
    except OperationRefused as exc:
        return JsonResponse({"error": exc.message, "code": exc.code}, status=400)
