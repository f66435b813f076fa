"""Calls, read-only, with one action: hang up (through ``services.call_control.call_hangup``)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from integrations.admin.scoping import OrganizationScopedAdmin
from integrations.errors import ServiceError
from integrations.models import Call
from integrations.services.call_control import call_hangup


@admin.register(Call)
class CallAdmin(OrganizationScopedAdmin):
    list_display = ("created_at", "organization", "to", "status", "provider_name", "duration_seconds", "cost", "currency")
    list_filter = ("status", "provider_name")
    search_fields = ("to", "reference", "provider_call_id")
    date_hierarchy = "created_at"
    actions = ["hang_up"]
    readonly_fields = [f.name for f in Call._meta.fields]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("organization", "integration")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Hang up the selected calls"))
    def hang_up(self, request, queryset):
        ended, refused = 0, []
        for call in queryset:
            if not self._allowed(request, call):
                continue
            try:
                call_hangup(call=call, actor=request.user)
                ended += 1
            except ServiceError as exc:
                refused.append(f"{call.to}: {exc.message}")
        if ended:
            self.message_user(request, gettext("Calls hung up: %(count)s.") % {"count": ended})
        for line in refused:
            self.message_user(request, line, level=messages.WARNING)
