"""Every route under ``/api/``: the versioned API (with analytics), its schema and docs, and
the routes the existing frontend calls."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from integrations.api import (
    analytics,
    audit,
    auth,
    conversation_events,
    deliveries,
    frontend,
    integrations,
    policies,
    service_windows,
    templates,
)

app_name = "api"

router = SimpleRouter()
router.register("providers", integrations.ProviderViewSet, basename="provider")
router.register("integrations", integrations.IntegrationViewSet, basename="integration")
router.register("channels", integrations.ChannelViewSet, basename="channel")
router.register("messages", deliveries.MessageViewSet, basename="message")
router.register("calls", deliveries.CallViewSet, basename="call")
router.register("templates", templates.TemplateViewSet, basename="template")
router.register("service-windows", service_windows.ServiceWindowViewSet, basename="service-window")
router.register("conversation-events", conversation_events.ConversationEventViewSet, basename="conversation-event")
router.register("audit-events", audit.AuditEventViewSet, basename="audit-event")

analytics_patterns = [
    path("costs/", analytics.CostComparisonView.as_view(), name="costs"),
    path("estimate/", analytics.CostEstimateView.as_view(), name="estimate"),
]

v1 = [
    path("auth/token/", auth.TokenView.as_view(), name="auth-token"),
    path("analytics/", include((analytics_patterns, "analytics"))),
    path("channels/<str:channel>/policy/", policies.ChannelPolicyView.as_view(), name="channel-policy"),
    path("channels/<str:channel>/scheduled-switches/", policies.ScheduledSwitchListView.as_view(), name="scheduled-switch-list"),
    path("channels/<str:channel>/scheduled-switches/<uuid:pk>/cancel/", policies.ScheduledSwitchCancelView.as_view(),
         name="scheduled-switch-cancel"),
    path("channels/<str:channel>/spend-caps/", policies.SpendCapListView.as_view(), name="spend-cap-list"),
    path("channels/<str:channel>/spend-caps/<uuid:integration_id>/", policies.SpendCapDetailView.as_view(),
         name="spend-cap-detail"),
    path("channels/<str:channel>/rollouts/", policies.RolloutListView.as_view(), name="rollout-list"),
    path("channels/<str:channel>/rollouts/<uuid:pk>/", policies.RolloutDetailView.as_view(), name="rollout-detail"),
    path("channels/<str:channel>/rollouts/<uuid:pk>/cancel/", policies.RolloutCancelView.as_view(), name="rollout-cancel"),
    path("", include(router.urls)),
]

# Served exactly as the existing Next.js service layer calls them (no trailing slashes).
frontend_patterns = [
    path("integrations/<str:channel>/providers", frontend.LegacyChannelProvidersView.as_view(), name="legacy-channel-providers"),
    path("integrations/<str:channel>/provider/current", frontend.LegacyCurrentProviderView.as_view(), name="legacy-provider-current"),
    path("integrations/<str:channel>/provider/configure", frontend.LegacyConfigureView.as_view(), name="legacy-provider-configure"),
    path("integrations/<str:channel>/provider/switch", frontend.LegacyChannelSwitchView.as_view(), name="legacy-provider-switch"),
    path("providers/", frontend.LegacyProvidersView.as_view(), name="legacy-providers"),
    path("providers/switch", frontend.LegacyProviderSwitchView.as_view(), name="legacy-providers-switch"),
    path("providers/status/<str:provider_type>", frontend.LegacyProviderStatusView.as_view(), name="legacy-providers-status"),
    path("providers/switch-primary", frontend.LegacySwitchPrimaryView.as_view(), name="legacy-providers-switch-primary"),
]

urlpatterns = [
    path("v1/", include(v1)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    *frontend_patterns,
]
