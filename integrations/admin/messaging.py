"""Business messaging, read-only: templates with their approval per integration, whose 24-hour
window is open, and what contacts tapped or reacted with. Changes go through the API's services
(docs/MESSAGING.md)."""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from integrations.admin.scoping import OrganizationScopedAdmin
from integrations.models import ConversationEvent, MessageTemplate, ServiceWindow, TemplateMapping


class _ReadOnly(OrganizationScopedAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class TemplateMappingInline(admin.TabularInline):
    model = TemplateMapping
    fields = ("integration", "status", "provider_template_id", "provider_template_name", "rejection_reason", "synced_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(MessageTemplate)
class MessageTemplateAdmin(_ReadOnly):
    list_display = ("name", "language", "category", "organization", "approved_on")
    list_filter = ("category", "language")
    search_fields = ("name", "body")
    readonly_fields = ("organization", "name", "language", "category", "body", "header", "footer", "buttons")
    inlines = [TemplateMappingInline]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("organization").prefetch_related("mappings__integration")

    @admin.display(description=_("Approved on"))
    def approved_on(self, obj):
        return ", ".join(m.integration.display_name for m in obj.mappings.all() if m.approved) or "—"


@admin.register(ServiceWindow)
class ServiceWindowAdmin(_ReadOnly):
    list_display = ("contact", "channel", "organization", "last_inbound_at", "window")
    list_filter = ("channel",)
    search_fields = ("contact",)
    readonly_fields = ("organization", "channel", "contact", "last_inbound_at")

    @admin.display(description=_("24-hour window"))
    def window(self, obj):
        is_open = obj.expires_at > timezone.now()
        return format_html('<span style="display:inline-block;padding:1px 8px;border-radius:10px;background:{};color:#fff;'
                           'font-size:11px">{}</span>', "#1a7f37" if is_open else "#6e7781", _("Open") if is_open else _("Closed"))


@admin.register(ConversationEvent)
class ConversationEventAdmin(_ReadOnly):
    list_display = ("occurred_at", "kind", "contact", "reply_title", "emoji", "system_type", "organization")
    list_filter = ("kind",)
    search_fields = ("contact", "reply_id", "reply_title")
    readonly_fields = [f.name for f in ConversationEvent._meta.fields]
