"""The audit trail, scoped to the organizations the user administers."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from audit.models import AuditEvent
from integrations.admin.scoping import OrganizationScopedAdmin
from integrations.reports.wording import audit_change


@admin.register(AuditEvent)
class AuditEventAdmin(OrganizationScopedAdmin):
    """The audit trail, read-only for everyone: it is append-only."""

    # What happened first: a phone shows the first columns only.
    list_display = ("created_at", "action", "target_repr", "outcome", "actor", "organization")
    list_filter = ("action", "outcome")
    search_fields = ("actor", "action", "target_repr", "target_id", "request_id")
    date_hierarchy = "created_at"
    readonly_fields = ["change_in_words", *(f.name for f in AuditEvent._meta.fields)]

    @admin.display(description=_("Change, in words"))
    def change_in_words(self, obj):
        """Before → after as sentences; the raw before/after (with ids) stay below."""
        lines = audit_change(obj.before, obj.after, names={obj.target_id: obj.target_repr} if obj.target_repr else None)
        if not lines:
            return "—"
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((line,) for line in lines)))

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("organization")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
