from django.contrib import admin
from django.urls import include, path

from integrations.pairing_views import integration_pairing

urlpatterns = [
    path("admin/integrations/<uuid:integration_id>/pairing/", integration_pairing, name="integration_pairing"),
    path("admin/", admin.site.urls),
    path("webhooks/", include("integrations.webhooks")),
]
