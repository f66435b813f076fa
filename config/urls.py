from django.contrib import admin
from django.urls import include, path

from integrations.admin_views import urls as provider_admin_urls
from integrations.api import views as api_views
from integrations.pairing_views import integration_pairing

urlpatterns = [
    # The admin's provider screens; before admin.site.urls, whose catch-all would answer first.
    path("admin/providers/costs/", include("integrations.analytics_views")),
    path("admin/providers/", include(provider_admin_urls())),
    path("admin/integrations/<uuid:integration_id>/pairing/", integration_pairing, name="integration_pairing"),
    path("admin/", admin.site.urls),
    path("webhooks/", include("integrations.webhooks")),
    path("api/v1/analytics/", include("integrations.api.analytics_urls")),
    path("api/", include("integrations.api.urls")),
    path("healthz", api_views.healthz, name="healthz"),
    path("readyz", api_views.readyz, name="readyz"),
]

# JSON 404s under /api/ (the API's error shape); the usual page everywhere else.
handler404 = api_views.api_not_found
