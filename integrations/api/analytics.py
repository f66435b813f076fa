"""Cost analytics API: the monthly comparison and the calculator.

Tenancy comes from the API's shared ``IsOrganizationMember`` permission (``X-Org-Id``), so every
member, viewers included, may read analytics of their own organization and nothing else. The
calculator is a POST only because it takes a body; it changes nothing, so every role may call it.
"""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations.models import Channel, Membership
from integrations.reports.costs import comparison_as_json, estimate_as_json
from integrations.services.costs.comparison import cost_comparison
from integrations.services.costs.estimate import cost_estimate

MAX_MONTHS = 24


class ComparisonQuerySerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=Channel.choices, required=False, allow_blank=True)
    months = serializers.IntegerField(min_value=1, max_value=MAX_MONTHS, required=False, default=6)
    reliability_bar = serializers.DecimalField(max_digits=6, decimal_places=4, min_value=Decimal("0"),
                                               max_value=Decimal("1"), required=False)
    min_attempts = serializers.IntegerField(min_value=0, required=False)
    unofficial_share = serializers.DecimalField(max_digits=6, decimal_places=4, min_value=Decimal("0"),
                                                max_value=Decimal("1"), required=False)

    def rule_overrides(self) -> dict:
        data = self.validated_data
        names = {"reliability_bar": "RELIABILITY_BAR", "min_attempts": "MIN_ATTEMPTS",
                 "unofficial_share": "UNOFFICIAL_SHARE"}
        return {rule: data[name] for name, rule in names.items() if data.get(name) is not None}


class EstimateRequestSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=Channel.choices)
    monthly_volume = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0"),
                                              help_text="Messages, or minutes of talk time, per month.")
    mix = serializers.DictField(
        child=serializers.DecimalField(max_digits=12, decimal_places=4, min_value=Decimal("0")),
        required=False,
        help_text="Message category → share (percentages or fractions; normalised), e.g. {\"marketing\": 30, \"utility\": 70}.",
    )
    average_call_seconds = serializers.IntegerField(min_value=1, max_value=86_400, required=False,
                                                    help_text="VoIP: average call length, to apply billing increments.")


class CostComparisonView(APIView):
    @extend_schema(
        tags=["analytics"],
        parameters=[
            OpenApiParameter("channel", OpenApiTypes.STR, enum=Channel.values, required=False,
                             description="One channel; all channels when left out."),
            OpenApiParameter("months", OpenApiTypes.INT, required=False, description="Calendar months, current included (1–24, default 6)."),
            OpenApiParameter("reliability_bar", OpenApiTypes.NUMBER, required=False),
            OpenApiParameter("min_attempts", OpenApiTypes.INT, required=False),
            OpenApiParameter("unofficial_share", OpenApiTypes.NUMBER, required=False),
        ],
        responses={200: OpenApiTypes.OBJECT},
        description="Actual spend per provider per month, what the same usage would have cost on every other "
        "option, the cheapest, savings against the dearest configured provider, and recommendations. "
        "Amounts are strings rounded half up to the cent; `definitions` says how each figure is computed.",
    )
    def get(self, request):
        query = ComparisonQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        channels = [query.validated_data["channel"]] if query.validated_data.get("channel") else Channel.values
        comparisons = [
            cost_comparison(
                organization=request.organization, channel=channel, months=query.validated_data["months"],
                rule_overrides=query.rule_overrides(),
            )
            for channel in channels
        ]
        organization = request.organization
        return Response({
            "organization": {"id": str(organization.pk), "slug": organization.slug, "name": organization.name},
            "months": query.validated_data["months"],
            "channels": [comparison_as_json(c) for c in comparisons],
        })


class CostEstimateView(APIView):
    # Read-only in effect: any member may run the calculator.
    write_roles = frozenset(Membership.Role.values)

    @extend_schema(
        tags=["analytics"],
        request=EstimateRequestSerializer,
        responses={200: OpenApiTypes.OBJECT},
        description="Monthly cost of a volume on every option of the channel, cheapest first, with the volumes "
        "at which each option and the cheapest break even (break_even_with_cheapest) and each option and the "
        "channel's primary break even (break_even_with_primary; empty when their costs never cross).",
    )
    def post(self, request):
        body = EstimateRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        lines = cost_estimate(
            organization=request.organization,
            channel=data["channel"],
            monthly_volume=data["monthly_volume"],
            mix=data.get("mix"),
            average_call_seconds=data.get("average_call_seconds"),
        )
        return Response(estimate_as_json(lines, channel=data["channel"], monthly_volume=data["monthly_volume"]))
