from django.contrib import admin
from django.urls import include, path

from integrations.api import probes
from integrations.views.metrics import metrics_view

urlpatterns = [
    # The app's screens first: the admin's provider pages must come before admin.site.urls.
    path("", include("integrations.views.urls")),
    path("admin/", admin.site.urls),
    # set_language: the admin's language switch posts here.
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/", include("integrations.api.urls")),
    path("healthz", probes.healthz, name="healthz"),
    path("readyz", probes.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
]

# JSON 404s under /api/ (the API's error shape); the usual page everywhere else.
handler404 = probes.api_not_found
