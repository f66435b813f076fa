"""Service probes and the API's 404, in plain Django: they answer without authentication."""

from __future__ import annotations

from django.http import JsonResponse
from django.utils.translation import gettext as _

from integrations.selectors.readiness import service_readiness


def healthz(request):
    """The process is up. Touches nothing else, so a database outage does not restart pods."""
    return JsonResponse({"status": "ok"})


def api_not_found(request, exception=None):
    """Django's 404 handler: JSON in the API's error shape under /api/, the usual page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "not_found", "detail": _("Not found."), "errors": {}}, status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def readyz(request):
    """Ready to serve: the database and Redis answer. 503 names what does not."""
    checks = service_readiness()
    failing = sorted(name for name, result in checks.items() if result != "ok")
    body = {"status": "ok" if not failing else "unavailable", "checks": checks}
    if failing:
        body["detail"] = f"Not ready: {', '.join(failing)} unreachable."
    return JsonResponse(body, status=503 if failing else 200)
