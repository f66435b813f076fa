from django.contrib import admin

from audit.models import AuditEvent
from integrations.selectors import administered_organizations


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "organization", "actor", "action", "target_repr", "outcome")
    list_filter = ("action", "outcome")
    search_fields = ("actor", "action", "target_repr", "target_id", "request_id")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("organization")
        if request.user.is_superuser:
            return queryset
        return queryset.filter(organization__in=administered_organizations(request.user))

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff and (
            request.user.is_superuser or administered_organizations(request.user).exists()
        )

    def has_view_permission(self, request, obj=None):
        if not self.has_module_permission(request):
            return False
        if obj is None or request.user.is_superuser:
            return True
        return administered_organizations(request.user).filter(pk=obj.organization_id).exists()

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
