"""Messages and calls: listing them, and queueing new ones (delivery is asynchronous)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response

from integrations.api import filters
from integrations.api import serializers as s
from integrations.api.scoping import OrganizationQuerysetMixin
from integrations.models import Call, Message
from integrations.services.delivery import intake

IDEMPOTENCY_HEADER = "Idempotency-Key"


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
        message, created = intake.send_message(
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
        call, created = intake.place_call(
            organization=request.organization,
            to=data["to"],
            from_number=data["from_number"] or None,
            twiml=data["twiml"] or None,
            reference=data["reference"] or None,
            idempotency_key=request.headers.get(IDEMPOTENCY_HEADER) or None,
            actor=request.user,
        )
        return self._accepted(call, created)
