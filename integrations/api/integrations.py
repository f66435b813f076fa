"""The provider catalog, an organization's integrations and its channels' routes.

Every view is tenant-scoped: ``IsOrganizationMember`` sets ``request.organization`` and every
queryset starts from it, so another organization's object is simply not found (404)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from integrations.api import filters
from integrations.api import serializers as s
from integrations.api.scoping import OrganizationQuerysetMixin
from integrations.errors import NotFound
from integrations.models import Channel, OrganizationIntegration
from integrations.selectors import channels as channel_reads
from integrations.selectors.integrations import integration_list
from integrations.services import provider_setup
from integrations.services.health import integration_test_connection
from integrations.services.integrations import (
    integration_create,
    integration_delete,
    integration_update,
    integrations_reorder,
)
from integrations.services.switching import switch_primary
from providers.registry import UnknownProvider, get_registry


@extend_schema(tags=["providers"])
class ProviderViewSet(viewsets.GenericViewSet):
    """The provider catalog: what can be connected, its configuration fields and prices."""

    serializer_class = s.ProviderSerializer
    filter_backends = []
    lookup_field = "name"
    lookup_value_regex = "[^/]+"

    @extend_schema(
        parameters=[OpenApiParameter("channel", OpenApiTypes.STR, enum=["whatsapp", "voip"], required=False)],
        responses={200: s.ProviderSerializer(many=True)},
    )
    def list(self, request):
        channel = request.query_params.get("channel") or None
        if channel is not None:
            try:
                channel_reads.check_channel(channel)
            except NotFound as exc:
                raise DjangoValidationError({"channel": [exc.message]}) from None
        page = self.paginate_queryset(get_registry().all(channel))
        return self.get_paginated_response(s.ProviderSerializer(page, many=True).data)

    @extend_schema(responses={200: s.ProviderSerializer})
    def retrieve(self, request, name=None):
        try:
            provider_class = get_registry().get(name)
        except UnknownProvider:
            raise Http404 from None
        return Response(s.ProviderSerializer(provider_class).data)


# --------------------------------------------------------------------------- integrations


@extend_schema(tags=["integrations"])
class IntegrationViewSet(
    OrganizationQuerysetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """The organization's provider integrations. Credentials are write-only."""

    serializer_class = s.IntegrationSerializer
    filterset_class = filters.IntegrationFilter
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return OrganizationIntegration.objects.none()
        return integration_list(organization=self.request.organization)

    @extend_schema(request=s.IntegrationCreateSerializer, responses={201: s.IntegrationSerializer})
    def create(self, request):
        data = self._validated(s.IntegrationCreateSerializer)
        integration = integration_create(organization=request.organization, actor=request.user, **data)
        return Response(s.IntegrationSerializer(integration).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.IntegrationUpdateSerializer, responses={200: s.IntegrationSerializer})
    def partial_update(self, request, pk=None):
        integration = self.get_object()
        data = self._validated(s.IntegrationUpdateSerializer)
        integration = integration_update(integration=integration, actor=request.user, **data)
        return Response(s.IntegrationSerializer(integration).data)

    @extend_schema(
        parameters=[
            OpenApiParameter("promote_next", OpenApiTypes.BOOL, required=False,
                             description="When deleting the primary, promote the next fallback."),
            OpenApiParameter("reason", OpenApiTypes.STR, required=False),
        ],
        responses={204: None},
    )
    def destroy(self, request, pk=None):
        integration = self.get_object()
        params = self._validated(_DeleteParams, data=request.query_params)
        integration_delete(integration=integration, actor=request.user, **params)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: s.ProviderHealthSerializer})
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        integration = self.get_object()
        health = integration_test_connection(integration=integration, actor=request.user)
        return Response(
            s.ProviderHealthSerializer(
                {
                    "status": health.status.value,
                    "latency_ms": health.latency_ms,
                    "detail": health.detail,
                    "checked_at": integration.health_checked_at,
                    "integration": integration,
                }
            ).data
        )

    @extend_schema(request=s.ReasonSerializer, responses={200: s.SwitchResultSerializer})
    @action(detail=True, methods=["post"], url_path="make-primary")
    def make_primary(self, request, pk=None):
        integration = self.get_object()
        data = self._validated(s.ReasonSerializer)
        result = switch_primary(
            organization=request.organization,
            channel=integration.channel,
            target=integration,
            actor=request.user,
            reason=data["reason"],
        )
        return Response(s.SwitchResultSerializer(result).data)

    @extend_schema(request=s.ReorderSerializer, responses={200: s.IntegrationSerializer(many=True)})
    @action(detail=False, methods=["post"])
    def reorder(self, request):
        data = self._validated(s.ReorderSerializer)
        known = set(self.get_queryset().filter(pk__in=data["ordered_ids"]).values_list("pk", flat=True))
        if set(data["ordered_ids"]) - known:
            raise NotFound(_("One or more integrations were not found."))
        ordered = integrations_reorder(
            organization=request.organization,
            channel=data["channel"],
            ordered_ids=data["ordered_ids"],
            actor=request.user,
        )
        return Response(s.IntegrationSerializer(ordered, many=True).data)

    def _validated(self, serializer_class, data=None):
        serializer = serializer_class(data=self.request.data if data is None else data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)


class _DeleteParams(serializers.Serializer):
    promote_next = serializers.BooleanField(required=False, default=False)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


# --------------------------------------------------------------------------- channels


@extend_schema(tags=["channels"])
class ChannelViewSet(viewsets.ViewSet):
    """Each channel's route: the primary, its fallbacks in order, and a status."""

    lookup_field = "channel"
    lookup_value_regex = "[^/]+"

    def _overview(self, channel):
        overview = channel_reads.channel_overview(organization=self.request.organization, channel=channel)
        return s.ChannelSerializer(overview).data

    @extend_schema(responses={200: s.ChannelSerializer(many=True)})
    def list(self, request):
        return Response([self._overview(channel) for channel in Channel.values])

    @extend_schema(responses={200: s.ChannelSerializer})
    def retrieve(self, request, channel=None):
        return Response(self._overview(channel))

    @extend_schema(request=s.ChannelSwitchSerializer, responses={200: s.SwitchResultSerializer})
    @action(detail=True, methods=["post"])
    def switch(self, request, channel=None):
        serializer = s.ChannelSwitchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = provider_setup.primary_switch_by_id(
            organization=request.organization,
            channel=channel,
            integration_id=serializer.validated_data["integration_id"],
            actor=request.user,
            reason=serializer.validated_data["reason"],
        )
        return Response(s.SwitchResultSerializer(result).data)
