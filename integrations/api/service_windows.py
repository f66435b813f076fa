"""The 24-hour customer-service windows: which contacts may get free-form WhatsApp messages."""

from __future__ import annotations

import django_filters
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets

from integrations.api.scoping import OrganizationQuerysetMixin
from integrations.models import Channel, ServiceWindow
from integrations.models.service_windows import WINDOW
from integrations.selectors.service_windows import window_list


class ServiceWindowSerializer(serializers.ModelSerializer):
    expires_at = serializers.DateTimeField(read_only=True)
    open = serializers.SerializerMethodField(help_text="Whether free-form messages may go to this contact now.")

    class Meta:
        model = ServiceWindow
        fields = ["contact", "channel", "last_inbound_at", "expires_at", "open"]
        read_only_fields = fields

    def get_open(self, window) -> bool:
        return window.expires_at > timezone.now()


class ServiceWindowFilter(django_filters.FilterSet):
    contact = django_filters.CharFilter(help_text="A phone number in E.164 (+5511…).")
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    open = django_filters.BooleanFilter(method="filter_open", help_text="Only open (true) or closed (false) windows.")

    class Meta:
        model = ServiceWindow
        fields = ["contact", "channel", "open"]

    def filter_open(self, queryset, name, value):
        since = timezone.now() - WINDOW
        return queryset.filter(last_inbound_at__gt=since) if value else queryset.filter(last_inbound_at__lte=since)


@extend_schema(tags=["messages"])
class ServiceWindowViewSet(OrganizationQuerysetMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Contacts who wrote to the organization, and whether their 24-hour window is open. A
    contact who never wrote is not listed: their window is closed."""

    serializer_class = ServiceWindowSerializer
    filterset_class = ServiceWindowFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ServiceWindow.objects.none()
        return window_list(organization=self.request.organization)
