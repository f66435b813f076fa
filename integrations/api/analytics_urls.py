"""Routes under ``/api/v1/analytics/``."""

from django.urls import path

from integrations.api.analytics import CostComparisonView, CostEstimateView

app_name = "analytics"

urlpatterns = [
    path("costs/", CostComparisonView.as_view(), name="costs"),
    path("estimate/", CostEstimateView.as_view(), name="estimate"),
]
