"""The audit trail, scoped to the organizations the user administers."""

from __future__ import annotations

from django.contrib import admin

from audit.models import AuditEvent
from integrations.admin.scoping import OrganizationScopedAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(OrganizationScopedAdmin):
    """The audit trail, read-only for everyone: it is append-only."""

    list_display = ("created_at", "organization", "actor", "action", "target_repr", "outcome")
    list_filter = ("action", "outcome")
    search_fields = ("actor", "action", "target_repr", "target_id", "request_id")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("organization")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
