"""API views. Each parses input, calls one service or selector, and renders the result.

Every view here (except the token endpoint and the service probes) is tenant-scoped: the
default permission ``IsOrganizationMember`` sets ``request.organization``, and every queryset
starts from it. Another organization's object is therefore simply not found (404).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.models import AuditEvent
from integrations import selectors
from integrations.api import filters
from integrations.api import serializers as s
from integrations.api.throttling import TokenRequestThrottle
from integrations.models import Call, Channel, Message, OrganizationIntegration
from integrations.services import delivery, frontend
from integrations.services.errors import NotFound
from integrations.services.health import integration_test_connection
from integrations.services.integrations import (
    integration_create,
    integration_delete,
    integration_update,
    integrations_reorder,
)
from integrations.services.readiness import service_readiness
from integrations.services.switching import switch_primary
from providers.registry import UnknownProvider, get_registry

IDEMPOTENCY_HEADER = "Idempotency-Key"


# --------------------------------------------------------------------------- authentication


class TokenView(APIView):
    """Exchange a username and password for an API token (``Authorization: Token <key>``)."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [TokenRequestThrottle]

    @extend_schema(request=s.TokenRequestSerializer, responses={200: s.TokenSerializer}, auth=[], tags=["auth"])
    def post(self, request):
        serializer = AuthTokenSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        token, _ = Token.objects.get_or_create(user=serializer.validated_data["user"])
        return Response({"token": token.key})


# --------------------------------------------------------------------------- providers


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
                frontend.check_channel(channel)
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


def _not_found_on_bad_id(lookup):
    try:
        return lookup()
    except (OrganizationIntegration.DoesNotExist, Message.DoesNotExist, Call.DoesNotExist,
            AuditEvent.DoesNotExist, DjangoValidationError, ValueError):
        raise Http404 from None


class OrganizationQuerysetMixin:
    """``get_object`` that answers 404 for a malformed id as for another tenant's id."""

    # Any segment reaches the view (the router's default stops at dots), so a malformed id gets
    # the API's JSON 404 rather than Django's HTML page.
    lookup_value_regex = "[^/]+"

    def get_object(self):
        queryset = self.filter_queryset(self.get_queryset())
        obj = _not_found_on_bad_id(lambda: queryset.get(pk=self.kwargs["pk"]))
        self.check_object_permissions(self.request, obj)
        return obj


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
        return selectors.integration_list(organization=self.request.organization)

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
            raise NotFound("One or more integrations were not found.")
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
        overview = frontend.channel_overview(organization=self.request.organization, channel=channel)
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
        result = frontend.primary_switch_by_id(
            organization=request.organization,
            channel=channel,
            integration_id=serializer.validated_data["integration_id"],
            actor=request.user,
            reason=serializer.validated_data["reason"],
        )
        return Response(s.SwitchResultSerializer(result).data)


# --------------------------------------------------------------------------- messages and calls


_IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
    description="Repeat a request with the same key to get the first result back instead of a duplicate.",
)


class _DeliveryViewSet(OrganizationQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                       viewsets.GenericViewSet):
    http_method_names = ["get", "post", "head", "options"]

    def _accepted(self, obj, created: bool) -> Response:
        response = Response(
            self.get_serializer(obj).data, status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK
        )
        if not created:
            response["Idempotent-Replayed"] = "true"
        return response


@extend_schema(tags=["messages"])
class MessageViewSet(_DeliveryViewSet):
    """Outbound and inbound messages. Sending queues the message; delivery is asynchronous."""

    serializer_class = s.MessageSerializer
    filterset_class = filters.MessageFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Message.objects.none()
        return Message.objects.for_org(self.request.organization).order_by("-created_at", "-id")

    @extend_schema(
        request=s.MessageCreateSerializer,
        parameters=[_IDEMPOTENCY_PARAMETER],
        responses={202: s.MessageSerializer, 200: OpenApiResponse(s.MessageSerializer, description="Idempotent replay.")},
    )
    def create(self, request):
        serializer = s.MessageCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        message, created = delivery.send_message(
            organization=request.organization,
            channel=data["channel"],
            to=data["to"],
            body=data["body"],
            attachments=[dict(item) for item in data["attachments"]],
            reference=data["reference"] or None,
            idempotency_key=request.headers.get(IDEMPOTENCY_HEADER) or None,
            actor=request.user,
        )
        return self._accepted(message, created)


@extend_schema(tags=["calls"])
class CallViewSet(_DeliveryViewSet):
    """Outbound and inbound calls. Placing a call queues it; dialing is asynchronous."""

    serializer_class = s.CallSerializer
    filterset_class = filters.CallFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Call.objects.none()
        return Call.objects.for_org(self.request.organization).order_by("-created_at", "-id")

    @extend_schema(
        request=s.CallCreateSerializer,
        parameters=[_IDEMPOTENCY_PARAMETER],
        responses={202: s.CallSerializer, 200: OpenApiResponse(s.CallSerializer, description="Idempotent replay.")},
    )
    def create(self, request):
        serializer = s.CallCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        call, created = delivery.place_call(
            organization=request.organization,
            to=data["to"],
            from_number=data["from_number"] or None,
            twiml=data["twiml"] or None,
            reference=data["reference"] or None,
            idempotency_key=request.headers.get(IDEMPOTENCY_HEADER) or None,
            actor=request.user,
        )
        return self._accepted(call, created)


# --------------------------------------------------------------------------- audit


@extend_schema(tags=["audit"])
class AuditEventViewSet(OrganizationQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """The organization's audit trail, newest first. Read-only: the trail is append-only."""

    serializer_class = s.AuditEventSerializer
    filterset_class = filters.AuditEventFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return AuditEvent.objects.none()
        return AuditEvent.objects.for_org(self.request.organization).order_by("-created_at", "-id")


# --------------------------------------------------------------------------- the frontend's routes


class _LegacyView(APIView):
    """Routes the existing frontend calls; refusals answer 400 (``{"detail": ...}``)."""

    refusal_status_code = status.HTTP_400_BAD_REQUEST

    def _validated(self, serializer_class):
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


@extend_schema(tags=["frontend"])
class LegacyChannelProvidersView(_LegacyView):
    @extend_schema(responses={200: serializers.ListSerializer(child=serializers.CharField())})
    def get(self, request, channel):
        return Response(frontend.provider_names(channel=channel))


@extend_schema(tags=["frontend"])
class LegacyCurrentProviderView(_LegacyView):
    @extend_schema(responses={200: s.LegacyCurrentSerializer})
    def get(self, request, channel):
        return Response(frontend.current_provider(organization=request.organization, channel=channel))


@extend_schema(tags=["frontend"])
class LegacyConfigureView(_LegacyView):
    @extend_schema(request=s.LegacyConfigureSerializer, responses={200: s.LegacyMessageSerializer})
    def post(self, request, channel):
        data = self._validated(s.LegacyConfigureSerializer)
        result = frontend.provider_configure(
            organization=request.organization,
            channel=channel,
            provider_name=data["provider_type"],
            config_data=data["config_data"],
            is_active=data["is_active"],
            actor=request.user,
        )
        return Response({"message": result.message})


@extend_schema(tags=["frontend"])
class LegacyChannelSwitchView(_LegacyView):
    @extend_schema(request=s.LegacyConfigureSerializer, responses={200: s.LegacyMessageSerializer})
    def post(self, request, channel):
        data = self._validated(s.LegacyConfigureSerializer)
        result = frontend.provider_switch(
            organization=request.organization,
            channel=channel,
            provider_name=data["provider_type"],
            config_data=data["config_data"],
            actor=request.user,
        )
        return Response({"message": result.message})


@extend_schema(tags=["frontend"])
class LegacyProvidersView(_LegacyView):
    @extend_schema(responses={200: s.LegacyProviderSerializer(many=True)})
    def get(self, request):
        return Response(frontend.providers_overview(organization=request.organization))


@extend_schema(tags=["frontend"])
class LegacyProviderSwitchView(_LegacyView):
    @extend_schema(request=s.LegacyProviderSwitchSerializer, responses={200: s.LegacySuccessSerializer})
    def post(self, request):
        data = self._validated(s.LegacyProviderSwitchSerializer)
        frontend.provider_switch(
            organization=request.organization,
            channel=data["provider_type"],
            provider_name=data["new_provider"],
            config_data=data["config"],
            actor=request.user,
        )
        return Response({"success": True})


@extend_schema(tags=["frontend"])
class LegacyProviderStatusView(_LegacyView):
    @extend_schema(responses={200: s.LegacyCurrentSerializer})
    def get(self, request, provider_type):
        return Response(frontend.current_provider(organization=request.organization, channel=provider_type))


@extend_schema(tags=["frontend"])
class LegacySwitchPrimaryView(_LegacyView):
    @extend_schema(request=s.LegacySwitchPrimarySerializer, responses={200: s.LegacySuccessSerializer})
    def post(self, request):
        data = self._validated(s.LegacySwitchPrimarySerializer)
        frontend.primary_switch_by_id(
            organization=request.organization,
            channel=data["provider_type"],
            integration_id=data["new_provider_id"],
            actor=request.user,
            reason="Switched from the frontend",
        )
        return Response({"success": True})


# --------------------------------------------------------------------------- service probes (plain Django)


def healthz(request):
    """The process is up. Touches nothing else, so a database outage does not restart pods."""
    return JsonResponse({"status": "ok"})


def api_not_found(request, exception=None):
    """Django's 404 handler: JSON in the API's error shape under /api/, the usual page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "not_found", "detail": "Not found.", "errors": {}}, status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def readyz(request):
    """Ready to serve: the database and Redis answer. 503 names what does not."""
    checks = service_readiness()
    failing = sorted(name for name, result in checks.items() if result != "ok")
    body = {"status": "ok" if not failing else "unavailable", "checks": checks}
    if failing:
        body["detail"] = f"Not ready: {', '.join(failing)} unreachable."
    return JsonResponse(body, status=503 if failing else 200)

