"""Routing policies in the admin, read-only: each channel's policy, scheduled switches, rollouts
(with a cancel action) and spend against each cap. Changes go through the API, the commands or
the actions below, all through the services (docs/POLICIES.md)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from integrations.admin.scoping import OrganizationScopedAdmin
from integrations.errors import ServiceError
from integrations.models import ChannelPolicy, Rollout, ScheduledSwitch, SpendCap
from integrations.services.policies.rollouts import cancel_rollout
from integrations.services.policies.scheduled import cancel_scheduled_switch


class _ReadOnly(OrganizationScopedAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("organization")

    def _cancel_each(self, request, queryset, cancel, *, id_field: str):
        done = 0
        for row in queryset:
            if not self._allowed(request, row):
                raise PermissionDenied
            try:
                cancel(organization=row.organization, channel=row.channel, actor=request.user,
                       reason=_("Admin action: cancel"), **{id_field: row.pk})
            except ServiceError as exc:
                self.message_user(request, f"{row}: {exc.message}", messages.ERROR)
                continue
            done += 1
        if done:
            self.message_user(request, _("%(count)s cancelled.") % {"count": done}, messages.SUCCESS)


@admin.register(ChannelPolicy)
class ChannelPolicyAdmin(_ReadOnly):
    list_display = ("organization", "channel", "mode", "weights", "rules", "failure_actions", "version", "updated_at")
    list_filter = ("channel", "mode")
    readonly_fields = [f.name for f in ChannelPolicy._meta.fields]


@admin.register(ScheduledSwitch)
class ScheduledSwitchAdmin(_ReadOnly):
    list_display = ("at", "organization", "channel", "target_name", "status", "reason", "detail")
    list_filter = ("status", "channel")
    readonly_fields = [f.name for f in ScheduledSwitch._meta.fields]
    actions = ["cancel"]

    @admin.action(description=gettext_lazy("Cancel the selected pending switches"))
    def cancel(self, request, queryset):
        self._cancel_each(request, queryset, cancel_scheduled_switch, id_field="switch_id")


@admin.register(Rollout)
class RolloutAdmin(_ReadOnly):
    list_display = ("created_at", "organization", "channel", "target_name", "steps", "share_now", "status", "detail")
    list_filter = ("status", "channel")
    readonly_fields = [f.name for f in Rollout._meta.fields]
    actions = ["cancel"]

    @admin.display(description=gettext_lazy("Share now"))
    def share_now(self, obj):
        return f"{obj.share}%"

    @admin.action(description=gettext_lazy("Cancel the selected running rollouts"))
    def cancel(self, request, queryset):
        self._cancel_each(request, queryset, cancel_rollout, id_field="rollout_id")


@admin.register(SpendCap)
class SpendCapAdmin(_ReadOnly):
    list_display = ("integration", "organization", "monthly_budget", "currency", "spent", "percent", "reached", "evaluated_at")
    list_filter = ("reached", "currency")
    readonly_fields = [f.name for f in SpendCap._meta.fields]

    @admin.display(description=gettext_lazy("Spent"))
    def percent(self, obj):
        return f"{(obj.spent * 100 / obj.monthly_budget):.1f}%" if obj.monthly_budget else "—"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("integration")
