"""Routes under ``/api/``: the versioned API, its schema and docs, and the frontend's routes."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from integrations.api import views

app_name = "api"

router = SimpleRouter()
router.register("providers", views.ProviderViewSet, basename="provider")
router.register("integrations", views.IntegrationViewSet, basename="integration")
router.register("channels", views.ChannelViewSet, basename="channel")
router.register("messages", views.MessageViewSet, basename="message")
router.register("calls", views.CallViewSet, basename="call")
router.register("audit-events", views.AuditEventViewSet, basename="audit-event")

v1 = [
    path("auth/token/", views.TokenView.as_view(), name="auth-token"),
    path("", include(router.urls)),
]

# Served exactly as the existing Next.js service layer calls them (no trailing slashes).
frontend = [
    path("integrations/<str:channel>/providers", views.LegacyChannelProvidersView.as_view(), name="legacy-channel-providers"),
    path("integrations/<str:channel>/provider/current", views.LegacyCurrentProviderView.as_view(), name="legacy-provider-current"),
    path("integrations/<str:channel>/provider/configure", views.LegacyConfigureView.as_view(), name="legacy-provider-configure"),
    path("integrations/<str:channel>/provider/switch", views.LegacyChannelSwitchView.as_view(), name="legacy-provider-switch"),
    path("providers/", views.LegacyProvidersView.as_view(), name="legacy-providers"),
    path("providers/switch", views.LegacyProviderSwitchView.as_view(), name="legacy-providers-switch"),
    path("providers/status/<str:provider_type>", views.LegacyProviderStatusView.as_view(), name="legacy-providers-status"),
    path("providers/switch-primary", views.LegacySwitchPrimaryView.as_view(), name="legacy-providers-switch-primary"),
]

urlpatterns = [
    path("v1/", include(v1)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    *frontend,
]
