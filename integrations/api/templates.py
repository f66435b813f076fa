"""Message templates: the organization's templates, how each integration maps them, and the
import from a provider. Thin: every write is ``integrations.services.templates``."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from integrations.api.scoping import OrganizationQuerysetMixin
from integrations.errors import NotFound
from integrations.models import MessageTemplate, OrganizationIntegration, TemplateMapping
from integrations.selectors.templates import template_list
from integrations.services import templates as template_services
from integrations.services.service_windows import window_fallback_set


class TemplateButtonSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=template_services.BUTTON_KINDS)
    text = serializers.CharField(max_length=template_services.MAX_BUTTON_TEXT)
    url = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
    phone_number = serializers.CharField(required=False, allow_blank=True, max_length=64, default="")


class TemplateHeaderSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=template_services.HEADER_FORMATS, default="text")
    text = serializers.CharField(required=False, allow_blank=True, max_length=template_services.MAX_HEADER_TEXT, default="")


class TemplateMappingSerializer(serializers.ModelSerializer):
    integration_name = serializers.CharField(source="integration.display_name", read_only=True)
    provider_name = serializers.CharField(source="integration.provider_name", read_only=True)

    class Meta:
        model = TemplateMapping
        fields = [
            "id", "integration", "integration_name", "provider_name", "status", "rejection_reason",
            "provider_template_id", "provider_template_name", "provider_language", "components",
            "variable_names", "synced_at", "updated_at",
        ]
        read_only_fields = fields


class TemplateSerializer(serializers.ModelSerializer):
    header = TemplateHeaderSerializer(allow_null=True, required=False)
    buttons = TemplateButtonSerializer(many=True, required=False)
    mappings = TemplateMappingSerializer(many=True, read_only=True)
    window_fallback = serializers.SerializerMethodField(
        help_text="Sent instead of free text to contacts outside the 24-hour window (see window-fallback).")

    class Meta:
        model = MessageTemplate
        fields = ["id", "name", "language", "category", "body", "header", "footer", "buttons", "mappings",
                  "window_fallback", "created_at", "updated_at"]
        read_only_fields = ["id", "mappings", "window_fallback", "created_at", "updated_at"]

    def get_window_fallback(self, template) -> bool:
        return template.organization.window_fallback_template_id == template.pk

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["header"] = instance.header or None
        return data


class TemplateMapSerializer(serializers.Serializer):
    integration = serializers.UUIDField()
    status = serializers.ChoiceField(choices=TemplateMapping.Status.choices, required=False)
    provider_template_id = serializers.CharField(
        required=False, allow_blank=True, max_length=255, help_text="Twilio: the Content SID (HX…). Meta: its template id.")
    provider_template_name = serializers.CharField(
        required=False, allow_blank=True, max_length=512, help_text="The provider's name for it, when not the template's.")
    provider_language = serializers.CharField(required=False, allow_blank=True, max_length=16)
    components = serializers.ListField(child=serializers.DictField(), required=False, max_length=20,
                                       help_text="Meta components to send as they are.")
    variable_names = serializers.DictField(child=serializers.CharField(max_length=64), required=False,
                                           help_text="Our variable name → the provider's placeholder (Twilio).")


class TemplateUnmapSerializer(serializers.Serializer):
    integration = serializers.UUIDField()


class WindowFallbackSerializer(serializers.Serializer):
    enabled = serializers.BooleanField(help_text="True: this template; false: no fallback (when it was this one).")


class TemplateImportSerializer(serializers.Serializer):
    integration = serializers.UUIDField()


class TemplateImportResultSerializer(serializers.Serializer):
    read = serializers.IntegerField(help_text="Templates the provider listed.")
    created_templates = serializers.IntegerField(help_text="Templates the organization did not have yet.")
    mappings = serializers.IntegerField(help_text="Mappings created or refreshed for the integration.")
    approved = serializers.IntegerField(help_text="Of those, approved by the provider.")


@extend_schema(tags=["templates"])
class TemplateViewSet(OrganizationQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                      viewsets.GenericViewSet):
    """The organization's message templates and, per integration, their approval status."""

    serializer_class = TemplateSerializer
    filter_backends = []
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return MessageTemplate.objects.none()
        return template_list(organization=self.request.organization)

    def _validated(self, serializer_class, **kwargs):
        serializer = serializer_class(data=self.request.data, **kwargs)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def _integration(self, integration_id) -> OrganizationIntegration:
        integration = OrganizationIntegration.objects.for_org(self.request.organization).filter(pk=integration_id).first()
        if integration is None:
            raise NotFound(_no_integration())
        return integration

    def _fresh(self, pk) -> Response:
        return Response(TemplateSerializer(self.get_queryset().get(pk=pk)).data)

    @extend_schema(request=TemplateSerializer, responses={201: TemplateSerializer})
    def create(self, request):
        data = self._validated(TemplateSerializer)
        template = template_services.template_create(organization=request.organization, actor=request.user, **data)
        return Response(TemplateSerializer(self.get_queryset().get(pk=template.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=TemplateSerializer, responses={200: TemplateSerializer})
    def partial_update(self, request, pk=None):
        template = self.get_object()
        data = self._validated(TemplateSerializer, partial=True)
        template_services.template_update(template=template, actor=request.user, **data)
        return self._fresh(template.pk)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        template_services.template_delete(template=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=TemplateMapSerializer, responses={200: TemplateSerializer})
    @action(detail=True, methods=["post"])
    def map(self, request, pk=None):
        """Create or change how one integration knows this template (set by hand: approved
        unless ``status`` says otherwise)."""
        template = self.get_object()
        data = self._validated(TemplateMapSerializer)
        integration = self._integration(data.pop("integration"))
        template_services.template_map(template=template, integration=integration, actor=request.user, **data)
        return self._fresh(template.pk)

    @extend_schema(request=TemplateUnmapSerializer, responses={200: TemplateSerializer})
    @action(detail=True, methods=["post"])
    def unmap(self, request, pk=None):
        template = self.get_object()
        data = self._validated(TemplateUnmapSerializer)
        mapping = TemplateMapping.objects.for_org(request.organization).filter(
            template=template, integration_id=data["integration"]).select_related("template__organization").first()
        if mapping is None:
            raise NotFound(_no_integration())
        template_services.template_unmap(mapping=mapping, actor=request.user)
        return self._fresh(template.pk)

    @extend_schema(request=WindowFallbackSerializer, responses={200: TemplateSerializer})
    @action(detail=True, methods=["post"], url_path="window-fallback", url_name="window-fallback")
    def window_fallback(self, request, pk=None):
        """Send this template instead of free text to contacts outside the 24-hour window (at
        most one variable, which receives the text), or stop doing so."""
        template = self.get_object()
        enabled = self._validated(WindowFallbackSerializer)["enabled"]
        organization = request.organization
        if enabled:
            window_fallback_set(organization=organization, template=template, actor=request.user)
        elif organization.window_fallback_template_id == template.pk:
            window_fallback_set(organization=organization, template=None, actor=request.user)
        return self._fresh(template.pk)

    @extend_schema(request=TemplateImportSerializer, responses={200: TemplateImportResultSerializer})
    @action(detail=False, methods=["post"], url_path="import", url_name="import")
    def import_templates(self, request):
        """Read the integration's templates from its provider (Meta, Twilio Content) and keep
        them with their approval status."""
        data = self._validated(TemplateImportSerializer)
        result = template_services.templates_import(integration=self._integration(data["integration"]), actor=request.user)
        return Response(TemplateImportResultSerializer(result).data)


def _no_integration() -> str:
    return _("No such integration.")
