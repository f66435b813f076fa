"""Messages and calls: listing them, and queueing new ones (delivery is asynchronous)."""

from __future__ import annotations

from django.conf import settings
from django.http import FileResponse, Http404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from integrations.api import filters
from integrations.api import serializers as s
from integrations.api.scoping import OrganizationQuerysetMixin
from integrations.api.throttling import MessageSendThrottle
from integrations.models import Call, Message
from integrations.services.call_control import call_hangup
from integrations.services.delivery import intake
from integrations.services.delivery.queue_depth import QueueFull
from integrations.services.media import media_open

IDEMPOTENCY_HEADER = "Idempotency-Key"


_IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
    description="Repeat a request with the same key to get the first result back instead of a duplicate; "
                "the same key with a different request is refused (422 idempotency_key_reused).",
)
_KEY_REUSED = OpenApiResponse(description="idempotency_key_reused: this Idempotency-Key was used for a different request.")


class BatchTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "batch_too_large"


class QueueFullThrottled(exceptions.Throttled):
    default_code = "queue_full"


def _queue_full(exc: QueueFull) -> exceptions.Throttled:
    return QueueFullThrottled(wait=exc.retry_after, detail=exc.message)


class _DeliveryViewSet(OrganizationQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                       viewsets.GenericViewSet):
    http_method_names = ["get", "post", "head", "options"]
    # Sends have their own, far higher rate than configuration writes (api/throttling.py).
    throttle_classes = [MessageSendThrottle]

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
        parameters=[OpenApiParameter("index", OpenApiTypes.INT, OpenApiParameter.PATH, description="The attachment's position (0-based).")],
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY,
                   404: OpenApiResponse(s.ErrorSerializer, description="No such message, or no kept file at that position.")},
    )
    @action(detail=True, methods=["get"], url_path=r"attachments/(?P<index>[0-9]{1,3})", url_name="attachment")
    def attachment(self, request, pk=None, index=None):
        """An inbound attachment as downloaded from the provider (``stored_path`` in the message)."""
        opened = media_open(message=self.get_object(), index=int(index))
        if opened is None:
            raise Http404
        handle, mime_type, filename = opened
        return FileResponse(handle, content_type=mime_type, as_attachment=True, filename=filename)

    @extend_schema(
        request=s.MessageCreateSerializer,
        parameters=[_IDEMPOTENCY_PARAMETER],
        responses={202: s.MessageSerializer, 200: OpenApiResponse(s.MessageSerializer, description="Idempotent replay."),
                   422: _KEY_REUSED},
    )
    def create(self, request):
        serializer = s.MessageCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            message, created = intake.send_message(
                organization=request.organization,
                channel=data["channel"],
                to=data["to"],
                body=data["body"],
                attachments=[dict(item) for item in data["attachments"]],
                reference=data["reference"] or None,
                idempotency_key=request.headers.get(IDEMPOTENCY_HEADER) or None,
                tags=data["tags"],
                actor=request.user,
                template=dict(data["template"]) if data["template"] else None,
                interactive=data["interactive"],
            )
        except QueueFull as exc:
            raise _queue_full(exc) from None
        return self._accepted(message, created)

    @extend_schema(
        request=s.MessageBatchSerializer,
        responses={
            202: s.MessageBatchResultSerializer,
            200: OpenApiResponse(s.MessageBatchResultSerializer,
                                 description="Nothing new was queued: every item was a replay or invalid."),
            413: OpenApiResponse(description="More messages than the batch limit (1,000), or a body over the upload limit."),
        },
    )
    @action(detail=False, methods=["post"], url_path="batch")
    def batch(self, request):
        """Queue up to 1,000 messages in one request and one transaction. Every item is validated
        like a single send and answered in ``results`` at its index; an invalid item is not written,
        the others are. Each item may carry its own ``idempotency_key``."""
        data = request.data
        items = data.get("messages") if isinstance(data, dict) else None
        if not isinstance(items, list) or not items:
            raise exceptions.ValidationError({"messages": [_("A non-empty list of messages is required.")]})
        limit = settings.MESSAGE_BATCH_MAX_ITEMS
        if len(items) > limit:
            raise BatchTooLarge(_("At most %(limit)s messages per batch; this one has %(count)s.")
                                % {"limit": limit, "count": len(items)})
        item_serializer = s.MessageBatchItemSerializer()
        valid: list[tuple[int, dict]] = []
        errors: dict[int, dict] = {}
        for index, item in enumerate(items):
            try:
                cleaned = item_serializer.run_validation(item)
            except exceptions.ValidationError as exc:
                detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
                errors[index] = detail
                continue
            cleaned["attachments"] = [dict(a) for a in cleaned["attachments"]]
            cleaned["reference"] = cleaned["reference"] or None
            valid.append((index, cleaned))
        try:
            outcomes = intake.send_messages(organization=request.organization, items=[c for _, c in valid],
                                            actor=request.user)
        except QueueFull as exc:
            raise _queue_full(exc) from None
        results: list[dict] = [{}] * len(items)
        for index, detail in errors.items():
            results[index] = {"index": index, "result": "invalid", "id": None, "status": None, "errors": detail}
        for (index, _item), outcome in zip(valid, outcomes, strict=True):
            if outcome.errors is not None:
                results[index] = {"index": index, "result": "invalid", "id": None, "status": None, "errors": outcome.errors}
            else:
                results[index] = {"index": index, "result": "accepted" if outcome.created else "replayed",
                                  "id": str(outcome.message.pk), "status": outcome.message.status, "errors": {}}
        counts = {name: sum(1 for r in results if r["result"] == name) for name in ("accepted", "replayed", "invalid")}
        return Response({**counts, "results": results},
                        status=status.HTTP_202_ACCEPTED if counts["accepted"] else status.HTTP_200_OK)


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
        responses={202: s.CallSerializer, 200: OpenApiResponse(s.CallSerializer, description="Idempotent replay."),
                   422: _KEY_REUSED},
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

    @extend_schema(
        request=None,
        responses={200: s.CallSerializer, 409: OpenApiResponse(s.ErrorSerializer, description=(
            "It cannot be hung up: already ended (call_ended), being placed (call_dialing), its integration deleted (integration_deleted), the provider "
            "has no hang-up (unsupported) or refused (its code)."))},
    )
    @action(detail=True, methods=["post"])
    def hangup(self, request, pk=None):
        """End the call, or cancel it while it rings; a call still queued is cancelled here. The
        final status comes back at once when the provider states it, else by webhook."""
        return Response(s.CallSerializer(call_hangup(call=self.get_object(), actor=request.user)).data)
