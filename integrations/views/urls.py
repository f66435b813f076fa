"""Every non-API URL of the app, included once from ``config/urls.py``.

The admin's provider screens are wrapped with ``admin.site.admin_view`` (login and staff
check) and must be included before ``admin.site.urls``, whose catch-all would answer first.
"""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from integrations.views import costs, dashboard, detail, history, pairing, webhooks, wizard

wrap = admin.site.admin_view

MIGRATE = "<slug:organization_slug>/<str:channel>/migrate/"
MIGRATION = MIGRATE + "<uuid:migration_id>/"

provider_admin = [
    path("", wrap(dashboard.dashboard), name="dashboard"),
    path("status.json", wrap(dashboard.dashboard_status), name="status"),
    path("integration/<uuid:integration_id>/", wrap(detail.integration_detail), name="integration"),
    path("integration/<uuid:integration_id>/test/", wrap(detail.test_connection), name="integration_test"),
    path("integration/<uuid:integration_id>/settings/", wrap(detail.save_settings), name="integration_settings"),
    path("integration/<uuid:integration_id>/credentials/", wrap(detail.replace_credentials), name="integration_credentials"),
    path("<slug:organization_slug>/history/", wrap(history.history), name="history"),
    path(MIGRATE, wrap(wizard.migrate), name="migrate"),
    path(MIGRATE + "select/", wrap(wizard.select), name="wizard_select"),
    path(MIGRATE + "configure/", wrap(wizard.configure), name="wizard_configure"),
    path(MIGRATE + "test/", wrap(wizard.test), name="wizard_test"),
    path(MIGRATE + "test-message/", wrap(wizard.test_message), name="wizard_test_message"),
    path(MIGRATE + "back/", wrap(wizard.back), name="wizard_back"),
    path(MIGRATE + "execute/", wrap(wizard.execute), name="wizard_execute"),
    path(MIGRATE + "cancel/", wrap(wizard.cancel), name="wizard_cancel"),
    path(MIGRATION, wrap(wizard.migration_detail), name="migration"),
    path(MIGRATION + "rollback/", wrap(wizard.rollback), name="migration_rollback"),
    path(MIGRATION + "status.json", wrap(wizard.migration_status), name="migration_status"),
]

provider_costs = [path("", wrap(costs.cost_page), name="costs")]

webhook_patterns = [path("<uuid:integration_id>/", webhooks.receive, name="receive")]

urlpatterns = [
    path("admin/providers/costs/", include((provider_costs, "provider_costs"))),
    path("admin/providers/", include((provider_admin, "provider_admin"))),
    path("admin/integrations/<uuid:integration_id>/pairing/", pairing.integration_pairing, name="integration_pairing"),
    path("webhooks/", include((webhook_patterns, "webhooks"))),
]
