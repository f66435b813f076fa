"""A channel's routing policy (weighted split, tag rules) — read with what each integration
actually carried over the last hour, or replaced — and its scheduled switches. Thin: one
selector or service per call."""

from __future__ import annotations

from datetime import timedelta

from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations.models import ChannelPolicy, Rollout, ScheduledSwitch, SpendCap
from integrations.selectors.policies import (
    carried_shares,
    integration_attempt_stats,
    policy_get,
    receipt_stats,
    rollout_get,
    rollout_list,
    scheduled_switch_list,
    spend_cap_list,
)
from integrations.services.policies.channel_policy import set_policy
from integrations.services.policies.rollouts import cancel_rollout, start_rollout
from integrations.services.policies.scheduled import cancel_scheduled_switch, schedule_switch
from integrations.services.policies.spend_caps import remove_spend_cap, set_spend_cap


class PolicyRuleSerializer(serializers.Serializer):
    tag = serializers.CharField(max_length=64)
    integration_id = serializers.UUIDField()


class PolicyWriteSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=ChannelPolicy.Mode.choices)
    weights = serializers.DictField(
        child=serializers.IntegerField(min_value=0, max_value=100), required=False, default=dict,
        help_text=gettext_lazy("Integration id → percent; active integrations of this channel; the sum is 100. Only in split mode."),
    )
    rules = PolicyRuleSerializer(many=True, required=False, default=list, max_length=20)
    failure_actions = serializers.DictField(
        child=serializers.ChoiceField(choices=["retry", "fail_over", "stop"]), required=False, default=dict,
        help_text=gettext_lazy("Provider error code → retry (later, no fail-over), fail_over (the next integration now) or stop (fail the message)."),
    )
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class CarriedShareSerializer(serializers.Serializer):
    integration_id = serializers.UUIDField()
    display_name = serializers.CharField()
    weight = serializers.IntegerField(allow_null=True)
    sent = serializers.IntegerField()
    share = serializers.FloatField(help_text=gettext_lazy("Percent of what the channel sent in the window."))


class CarriedSharesSerializer(serializers.Serializer):
    since = serializers.DateTimeField()
    total = serializers.IntegerField()
    integrations = CarriedShareSerializer(many=True)


class PolicySerializer(serializers.Serializer):
    channel = serializers.CharField()
    mode = serializers.ChoiceField(choices=ChannelPolicy.Mode.choices)
    weights = serializers.DictField(child=serializers.IntegerField())
    rules = PolicyRuleSerializer(many=True)
    failure_actions = serializers.DictField(child=serializers.CharField())
    version = serializers.IntegerField()
    updated_at = serializers.DateTimeField(allow_null=True)
    carried_last_hour = CarriedSharesSerializer()


def _policy_body(organization, channel: str) -> dict:
    policy = policy_get(organization=organization, channel=channel)
    return PolicySerializer({
        "channel": channel, "mode": policy.mode, "weights": policy.weights or {}, "rules": policy.rules or [],
        "failure_actions": policy.failure_actions or {},
        "version": policy.version, "updated_at": policy.updated_at,
        "carried_last_hour": carried_shares(organization=organization, channel=channel, policy=policy),
    }).data


@extend_schema(tags=["channels"])
class ChannelPolicyView(APIView):
    """The channel's routing policy. ``split`` sends each contact, stably, to one integration by
    weight (then falls back by priority); ``primary`` is primary-then-fallbacks. Rules by message
    tag are matched first in both modes."""

    @extend_schema(responses={200: PolicySerializer})
    def get(self, request, channel):
        return Response(_policy_body(request.organization, channel))

    @extend_schema(request=PolicyWriteSerializer, responses={200: PolicySerializer})
    def put(self, request, channel):
        serializer = PolicyWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        set_policy(
            organization=request.organization, channel=channel, mode=data["mode"],
            weights=dict(data["weights"]),
            rules=[{"tag": r["tag"], "integration_id": str(r["integration_id"])} for r in data["rules"]],
            failure_actions=dict(data["failure_actions"]), actor=request.user, reason=data["reason"],
        )
        return Response(_policy_body(request.organization, channel))


# --------------------------------------------------------------------------- scheduled switches


class ScheduledSwitchSerializer(serializers.ModelSerializer):
    target = serializers.UUIDField(source="target_id", allow_null=True, read_only=True)

    class Meta:
        model = ScheduledSwitch
        fields = ["id", "channel", "target", "target_name", "at", "reason", "status", "detail", "created_at", "finished_at"]
        read_only_fields = fields


class ScheduledSwitchCreateSerializer(serializers.Serializer):
    integration_id = serializers.UUIDField()
    at = serializers.DateTimeField(help_text=gettext_lazy("When to switch (ISO 8601); in the future, at most a year ahead."))
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class CancelSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


@extend_schema(tags=["channels"])
class ScheduledSwitchListView(GenericAPIView):
    """Switches of the channel's primary at a given time, run once by the scheduler through the
    same switch as a manual one; refused with the reason kept when the target is not usable then."""

    serializer_class = ScheduledSwitchSerializer

    @extend_schema(responses={200: ScheduledSwitchSerializer(many=True)})
    def get(self, request, channel):
        page = self.paginate_queryset(scheduled_switch_list(organization=request.organization, channel=channel))
        return self.get_paginated_response(ScheduledSwitchSerializer(page, many=True).data)

    @extend_schema(request=ScheduledSwitchCreateSerializer, responses={201: ScheduledSwitchSerializer})
    def post(self, request, channel):
        serializer = ScheduledSwitchCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        row = schedule_switch(organization=request.organization, channel=channel, integration_id=data["integration_id"],
                              at=data["at"], reason=data["reason"], actor=request.user)
        return Response(ScheduledSwitchSerializer(row).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["channels"])
class ScheduledSwitchCancelView(APIView):
    @extend_schema(request=CancelSerializer, responses={200: ScheduledSwitchSerializer})
    def post(self, request, channel, pk):
        serializer = CancelSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        row = cancel_scheduled_switch(organization=request.organization, channel=channel, switch_id=pk, actor=request.user,
                                      reason=serializer.validated_data["reason"])
        return Response(ScheduledSwitchSerializer(row).data)


# --------------------------------------------------------------------------- rollouts


class StepStatsSerializer(serializers.Serializer):
    attempts = serializers.IntegerField()
    failures = serializers.IntegerField()
    failure_rate = serializers.FloatField()
    receipts_judged = serializers.IntegerField(allow_null=True, help_text=gettext_lazy(
        "With the receipt guard: the target's messages this step old enough to be judged."))
    receipts_missing = serializers.IntegerField(allow_null=True)


class RolloutSerializer(serializers.ModelSerializer):
    target = serializers.UUIDField(source="target_id", allow_null=True, read_only=True)
    source = serializers.UUIDField(source="source_id", allow_null=True, read_only=True)
    share = serializers.IntegerField(read_only=True, help_text=gettext_lazy("The target's share now, in percent."))
    next_step_at = serializers.SerializerMethodField()
    current_step = serializers.SerializerMethodField()

    class Meta:
        model = Rollout
        fields = ["id", "channel", "target", "target_name", "source", "steps", "step_seconds", "max_failure_rate",
                  "min_sample", "receipt_timeout_seconds", "step_index", "share", "status", "detail", "step_started_at", "next_step_at",
                  "current_step", "log", "created_at", "finished_at"]
        read_only_fields = fields

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_next_step_at(self, rollout):
        if rollout.status != Rollout.Status.RUNNING:
            return None
        return serializers.DateTimeField().to_representation(rollout.step_started_at + timedelta(seconds=rollout.step_seconds))

    @extend_schema_field(StepStatsSerializer(allow_null=True))
    def get_current_step(self, rollout):
        """How the target's attempts went in the step now held (what the guard judges)."""
        if rollout.status != Rollout.Status.RUNNING:
            return None
        stats = integration_attempt_stats(organization=rollout.organization, channel=rollout.channel,
                                          integration_id=rollout.target_id, since=rollout.step_started_at)
        receipts = receipt_stats(organization=rollout.organization, channel=rollout.channel,
                                 integration_id=rollout.target_id, since=rollout.step_started_at,
                                 timeout_seconds=rollout.receipt_timeout_seconds) if rollout.receipt_timeout_seconds else None
        return StepStatsSerializer({"attempts": stats.attempts, "failures": stats.failures,
                                    "failure_rate": round(stats.failure_rate, 4),
                                    "receipts_judged": receipts.judged if receipts else None,
                                    "receipts_missing": receipts.missing if receipts else None}).data


class RolloutCreateSerializer(serializers.Serializer):
    integration_id = serializers.UUIDField()
    steps = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=100), min_length=1, max_length=10,
                                  help_text=gettext_lazy("The target's share at each step, in percent, increasing, ending at 100."))
    step_seconds = serializers.IntegerField(min_value=10, max_value=7 * 24 * 3600)
    max_failure_rate = serializers.FloatField(min_value=0, max_value=1)
    min_sample = serializers.IntegerField(min_value=1, max_value=100_000, required=False, default=20)
    receipt_timeout_seconds = serializers.IntegerField(
        min_value=1, max_value=86400, required=False, allow_null=True, default=None,
        help_text=gettext_lazy("Messages the target sent without a delivery receipt this long after count as failures."),
    )
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


@extend_schema(tags=["channels"])
class RolloutListView(GenericAPIView):
    """Gradual migrations of the channel's traffic to another integration, newest first. Each
    step is held while the target's failure rate stays inside the guard; a breach rolls the share
    back to 0; the last step (100) switches the primary."""

    serializer_class = RolloutSerializer

    @extend_schema(responses={200: RolloutSerializer(many=True)})
    def get(self, request, channel):
        page = self.paginate_queryset(rollout_list(organization=request.organization, channel=channel))
        return self.get_paginated_response(RolloutSerializer(page, many=True).data)

    @extend_schema(request=RolloutCreateSerializer, responses={201: RolloutSerializer})
    def post(self, request, channel):
        serializer = RolloutCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        rollout = start_rollout(
            organization=request.organization, channel=channel, integration_id=data["integration_id"],
            steps=list(data["steps"]), step_seconds=data["step_seconds"], max_failure_rate=data["max_failure_rate"],
            min_sample=data["min_sample"], receipt_timeout_seconds=data["receipt_timeout_seconds"],
            actor=request.user, reason=data["reason"],
        )
        return Response(RolloutSerializer(rollout).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["channels"])
class RolloutDetailView(APIView):
    @extend_schema(responses={200: RolloutSerializer})
    def get(self, request, channel, pk):
        return Response(RolloutSerializer(rollout_get(organization=request.organization, channel=channel, rollout_id=pk)).data)


@extend_schema(tags=["channels"])
class RolloutCancelView(APIView):
    @extend_schema(request=CancelSerializer, responses={200: RolloutSerializer})
    def post(self, request, channel, pk):
        serializer = CancelSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rollout = cancel_rollout(organization=request.organization, channel=channel, rollout_id=pk, actor=request.user,
                                 reason=serializer.validated_data["reason"])
        return Response(RolloutSerializer(rollout).data)


# --------------------------------------------------------------------------- spend caps


class SpendCapSerializer(serializers.ModelSerializer):
    integration_id = serializers.UUIDField(read_only=True)
    display_name = serializers.CharField(source="integration.display_name", read_only=True)
    percent = serializers.SerializerMethodField()

    class Meta:
        model = SpendCap
        fields = ["integration_id", "display_name", "monthly_budget", "currency", "spent", "percent", "reached",
                  "month", "evaluated_at", "updated_at"]
        read_only_fields = fields

    @extend_schema_field(serializers.FloatField())
    def get_percent(self, cap) -> float:
        return round(float(cap.spent * 100 / cap.monthly_budget), 1) if cap.monthly_budget else 100.0


class SpendCapWriteSerializer(serializers.Serializer):
    monthly_budget = serializers.DecimalField(max_digits=14, decimal_places=6, min_value=0)
    currency = serializers.CharField(min_length=3, max_length=3)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


@extend_schema(tags=["channels"])
class SpendCapListView(APIView):
    """The channel's spend caps with this month's spend against each (month in the deployment's
    time zone; re-evaluated every policy tick)."""

    @extend_schema(responses={200: SpendCapSerializer(many=True)})
    def get(self, request, channel):
        return Response(SpendCapSerializer(spend_cap_list(organization=request.organization, channel=channel), many=True).data)


@extend_schema(tags=["channels"])
class SpendCapDetailView(APIView):
    """Set or remove one integration's monthly budget; once reached, routing skips it."""

    @extend_schema(request=SpendCapWriteSerializer, responses={200: SpendCapSerializer})
    def put(self, request, channel, integration_id):
        serializer = SpendCapWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        cap = set_spend_cap(organization=request.organization, channel=channel, integration_id=integration_id,
                            monthly_budget=data["monthly_budget"], currency=data["currency"], actor=request.user,
                            reason=data["reason"])
        return Response(SpendCapSerializer(cap).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, channel, integration_id):
        remove_spend_cap(organization=request.organization, channel=channel, integration_id=integration_id,
                         actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
