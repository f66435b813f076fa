"""The routes the existing frontend calls, served exactly as it calls them."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations.api import serializers as s
from integrations.selectors import channels as channel_reads
from integrations.services import provider_setup


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
        return Response(channel_reads.provider_names(channel=channel))


@extend_schema(tags=["frontend"])
class LegacyCurrentProviderView(_LegacyView):
    @extend_schema(responses={200: s.LegacyCurrentSerializer})
    def get(self, request, channel):
        return Response(channel_reads.current_provider(organization=request.organization, channel=channel))


@extend_schema(tags=["frontend"])
class LegacyConfigureView(_LegacyView):
    @extend_schema(request=s.LegacyConfigureSerializer, responses={200: s.LegacyMessageSerializer})
    def post(self, request, channel):
        data = self._validated(s.LegacyConfigureSerializer)
        result = provider_setup.provider_configure(
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
        result = provider_setup.provider_switch(
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
        return Response(channel_reads.providers_overview(organization=request.organization))


@extend_schema(tags=["frontend"])
class LegacyProviderSwitchView(_LegacyView):
    @extend_schema(request=s.LegacyProviderSwitchSerializer, responses={200: s.LegacySuccessSerializer})
    def post(self, request):
        data = self._validated(s.LegacyProviderSwitchSerializer)
        provider_setup.provider_switch(
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
        return Response(channel_reads.current_provider(organization=request.organization, channel=provider_type))


@extend_schema(tags=["frontend"])
class LegacySwitchPrimaryView(_LegacyView):
    @extend_schema(request=s.LegacySwitchPrimarySerializer, responses={200: s.LegacySuccessSerializer})
    def post(self, request):
        data = self._validated(s.LegacySwitchPrimarySerializer)
        provider_setup.primary_switch_by_id(
            organization=request.organization,
            channel=data["provider_type"],
            integration_id=data["new_provider_id"],
            actor=request.user,
            reason="Switched from the frontend",
        )
        return Response({"success": True})
