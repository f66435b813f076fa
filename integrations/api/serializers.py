"""Input and output serializers. Output serializers never carry a credential value: the
``credentials`` an integration shows are masked hints from ``selectors.masked_credentials``."""

from __future__ import annotations

from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from audit.models import AuditEvent
from integrations.models import Call, Channel, Message, OrganizationIntegration
from integrations.selectors.integrations import masked_credentials, shown_config
from providers.config import describe


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable error code.")
    detail = serializers.CharField(help_text="What went wrong, for a person.")
    errors = serializers.DictField(
        child=serializers.JSONField(), help_text="Field name → list of messages (validation errors only)."
    )


# --------------------------------------------------------------------------- providers


class ConfigFieldSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    secret = serializers.BooleanField(help_text="Stored encrypted, write-only, shown only as a masked hint.")
    required = serializers.BooleanField()
    kind = serializers.CharField()
    help_text = serializers.CharField()
    choices = serializers.ListField(child=serializers.CharField())
    default = serializers.JSONField(allow_null=True)


class ProviderSerializer(serializers.Serializer):
    name = serializers.CharField()
    channel = serializers.ChoiceField(choices=Channel.choices)
    display_name = serializers.CharField()
    description = serializers.CharField()
    official = serializers.BooleanField()
    stability = serializers.CharField()
    pricing = serializers.SerializerMethodField()
    config_fields = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_pricing(self, provider_class) -> dict:
        return provider_class.pricing.describe()

    @extend_schema_field(ConfigFieldSerializer(many=True))
    def get_config_fields(self, provider_class) -> list[dict]:
        return [describe(f) for f in provider_class.config_fields]


# --------------------------------------------------------------------------- integrations


class HealthSerializer(serializers.Serializer):
    status = serializers.CharField(source="health_status")
    checked_at = serializers.DateTimeField(source="health_checked_at", allow_null=True)
    latency_ms = serializers.IntegerField(source="health_latency_ms", allow_null=True)
    detail = serializers.CharField(source="health_detail")


class IntegrationSerializer(serializers.ModelSerializer):
    credentials = serializers.SerializerMethodField(
        help_text="Masked hints of the credentials that are set (e.g. \"••••8901\"); values are write-only."
    )
    config = serializers.SerializerMethodField(
        help_text="Settings; a value under a key that looks like a credential is shown as \"••••\"."
    )
    health = HealthSerializer(source="*", read_only=True)
    webhook_url = serializers.CharField(read_only=True)

    class Meta:
        model = OrganizationIntegration
        fields = [
            "id", "channel", "provider_name", "display_name", "status", "is_primary", "priority",
            "config", "credentials", "health", "webhook_url", "created_at", "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.DictField(child=serializers.CharField()))
    def get_credentials(self, integration) -> dict[str, str]:
        return masked_credentials(integration)

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_config(self, integration) -> dict:
        return shown_config(integration)


class CredentialsField(serializers.DictField):
    """Write-only map of secret field name → value."""

    def __init__(self, **kwargs):
        kwargs.setdefault("child", serializers.CharField(allow_blank=True, trim_whitespace=False))
        kwargs.setdefault("write_only", True)
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", "Secret field name → value. Write-only; a blank value keeps the stored one.")
        super().__init__(**kwargs)


class IntegrationCreateSerializer(serializers.Serializer):
    provider_name = serializers.CharField(max_length=64)
    display_name = serializers.CharField(max_length=120)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    config = serializers.DictField(child=serializers.JSONField(), required=False, default=dict)
    credentials = CredentialsField()
    priority = serializers.IntegerField(required=False, min_value=-1_000_000, max_value=1_000_000)


class IntegrationUpdateSerializer(serializers.Serializer):
    display_name = serializers.CharField(max_length=120, required=False)
    config = serializers.DictField(child=serializers.JSONField(), required=False)
    credentials = CredentialsField()
    priority = serializers.IntegerField(required=False, min_value=-1_000_000, max_value=1_000_000)
    status = serializers.ChoiceField(
        choices=[OrganizationIntegration.Status.ACTIVE, OrganizationIntegration.Status.INACTIVE], required=False
    )
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, write_only=True)


class ProviderHealthSerializer(serializers.Serializer):
    status = serializers.CharField()
    latency_ms = serializers.IntegerField(allow_null=True)
    detail = serializers.CharField()
    checked_at = serializers.DateTimeField(allow_null=True)
    integration = IntegrationSerializer()


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class SwitchResultSerializer(serializers.Serializer):
    previous = IntegrationSerializer(allow_null=True)
    current = IntegrationSerializer()
    switched = serializers.BooleanField(help_text="False when the target already was the primary.")
    switched_at = serializers.DateTimeField()
    audit_event = serializers.UUIDField(allow_null=True, source="audit_event.pk", default=None)


class ReorderSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=Channel.choices)
    ordered_ids = serializers.ListField(child=serializers.UUIDField(), allow_empty=False, max_length=500)


class ChannelSwitchSerializer(serializers.Serializer):
    integration_id = serializers.UUIDField()
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class ChannelSerializer(serializers.Serializer):
    channel = serializers.CharField()
    primary = IntegrationSerializer(allow_null=True)
    fallbacks = IntegrationSerializer(many=True)
    status = serializers.ChoiceField(choices=["ok", "degraded", "down", "not_configured"])


# --------------------------------------------------------------------------- messages and calls


class AttachmentSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=2000)
    mime_type = serializers.CharField(required=False, allow_blank=True, max_length=255)
    caption = serializers.CharField(required=False, allow_blank=True, max_length=1024)
    filename = serializers.CharField(required=False, allow_blank=True, max_length=255)


class TemplateHeaderValueSerializer(serializers.Serializer):
    media_url = serializers.URLField(max_length=2000, required=False, help_text="The header's image, document or video.")
    filename = serializers.CharField(max_length=255, required=False, allow_blank=True, help_text="A document's file name.")
    variables = serializers.DictField(child=serializers.CharField(max_length=1024, allow_blank=True), required=False,
                                      help_text="A text header's placeholder name → value.")


class TemplateButtonValueSerializer(serializers.Serializer):
    index = serializers.IntegerField(min_value=0, max_value=9, help_text="The button's position in the template (0-based).")
    kind = serializers.ChoiceField(choices=["quick_reply", "url"])
    value = serializers.CharField(max_length=1024, help_text="A quick reply's payload, or a URL button's variable suffix.")


class TemplateSendSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=512)
    language = serializers.CharField(max_length=16)
    variables = serializers.DictField(
        child=serializers.CharField(max_length=1024, allow_blank=True), required=False, default=dict,
        help_text='Placeholder name → value, e.g. {"1": "Ana"}.',
    )
    header = TemplateHeaderValueSerializer(required=False, help_text="Required when the template's header is media.")
    buttons = TemplateButtonValueSerializer(many=True, required=False, max_length=10)


class ReplyButtonSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=256, help_text="What a reply carries back when the button is tapped.")
    title = serializers.CharField(max_length=256, help_text="At most 20 characters on WhatsApp.")


class ListRowSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=256)
    title = serializers.CharField(max_length=256, help_text="At most 24 characters.")
    description = serializers.CharField(max_length=256, required=False, allow_blank=True, default="",
                                        help_text="At most 72 characters.")


class ListSectionSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=256, required=False, allow_blank=True, default="")
    rows = ListRowSerializer(many=True, max_length=20)


class InteractiveSendSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=4096)
    header = serializers.CharField(max_length=256, required=False, allow_blank=True, default="")
    footer = serializers.CharField(max_length=256, required=False, allow_blank=True, default="")
    buttons = ReplyButtonSerializer(many=True, required=False, default=list, max_length=10,
                                    help_text="1-3 reply buttons; or give sections.")
    button_text = serializers.CharField(max_length=256, required=False, allow_blank=True, default="",
                                        help_text="The button that opens a list (with sections).")
    sections = ListSectionSerializer(many=True, required=False, default=list, max_length=20,
                                     help_text="A list: 1-10 rows in all.")


class MessageCreateSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=Channel.choices, default=Channel.WHATSAPP)
    to = serializers.CharField(max_length=64)
    body = serializers.CharField(required=False, allow_blank=True, default="", max_length=65536)
    attachments = AttachmentSerializer(many=True, required=False, default=list)
    reference = serializers.CharField(required=False, allow_blank=True, max_length=255, default="")
    tags = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, default=list, max_length=20,
        help_text=gettext_lazy("Words the channel's routing-policy rules match, e.g. internal."),
    )
    template = TemplateSendSerializer(
        required=False, default=None, allow_null=True,
        help_text="Send one of the organization's templates (/api/v1/templates/) instead of a body.",
    )
    interactive = InteractiveSendSerializer(
        required=False, default=None, allow_null=True,
        help_text="Reply buttons or a list instead of a body (bridges send it as numbered text).",
    )


class MessageBatchItemSerializer(MessageCreateSerializer):
    idempotency_key = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=255, default=None,
        help_text="Repeat an item with the same key (in this or a later batch) to get the first message back.",
    )


class MessageBatchSerializer(serializers.Serializer):
    messages = MessageBatchItemSerializer(many=True, help_text="1 to 1,000 messages; more answers 413.")


class MessageBatchItemResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the item in the request.")
    result = serializers.ChoiceField(choices=["accepted", "replayed", "invalid"])
    id = serializers.UUIDField(allow_null=True, help_text="The message's id; null when the item was invalid.")
    status = serializers.CharField(allow_null=True, help_text="The message's delivery status.")
    errors = serializers.DictField(help_text="Field name → messages for an invalid item; empty otherwise.")


class MessageBatchResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    replayed = serializers.IntegerField()
    invalid = serializers.IntegerField()
    results = MessageBatchItemResultSerializer(many=True)


class MessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = [
            "id", "direction", "channel", "status", "to", "from_number", "chat_id", "chat_kind", "sender_id", "body", "attachments",
            "template", "template_variables", "template_parameters", "interactive", "category", "reference", "tags", "integration", "provider_name", "provider_message_id", "cost", "currency",
            "cost_source", "latency_ms", "attempts", "retry_count", "error", "error_code",
            "created_at", "updated_at", "sent_at", "delivered_at", "read_at", "failed_at",
        ]
        read_only_fields = fields


class CallCreateSerializer(serializers.Serializer):
    to = serializers.CharField(max_length=64)
    from_number = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    twiml = serializers.CharField(required=False, allow_blank=True, default="", max_length=65536)
    reference = serializers.CharField(required=False, allow_blank=True, max_length=255, default="")


class CallSerializer(serializers.ModelSerializer):
    class Meta:
        model = Call
        fields = [
            "id", "direction", "status", "to", "from_number", "reference", "integration",
            "provider_name", "provider_call_id", "duration_seconds", "cost", "currency", "cost_source",
            "latency_ms", "attempts", "retry_count", "error", "error_code", "created_at",
            "updated_at", "started_at", "answered_at", "ended_at",
        ]
        read_only_fields = fields


# --------------------------------------------------------------------------- audit


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "id", "actor", "action", "target_type", "target_id", "target_repr", "before", "after",
            "outcome", "reason", "ip", "request_id", "created_at",
        ]
        read_only_fields = fields


# --------------------------------------------------------------------------- the frontend's routes


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(trim_whitespace=False, write_only=True)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()


class LegacyConfigureSerializer(serializers.Serializer):
    provider_type = serializers.CharField(max_length=64, help_text="Provider name, e.g. meta_cloud.")
    organization_id = serializers.CharField(
        required=False, allow_blank=True, allow_null=True,
        help_text="Ignored: the organization is always the authenticated one (X-Org-Id).",
    )
    config_data = serializers.DictField(child=serializers.JSONField(), required=False, default=dict)
    is_active = serializers.BooleanField(required=False, default=False)


class LegacyMessageSerializer(serializers.Serializer):
    message = serializers.CharField()


class LegacyCurrentSerializer(serializers.Serializer):
    provider = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["not_configured", "configured", "active", "error"])
    connection_quality = serializers.ChoiceField(choices=["excellent", "good", "poor", "disconnected"])
    last_activity = serializers.DateTimeField(allow_null=True)


class LegacyProviderSwitchSerializer(serializers.Serializer):
    provider_type = serializers.ChoiceField(choices=Channel.choices, help_text="The channel.")
    new_provider = serializers.CharField(max_length=64, help_text="Provider name to switch to.")
    config = serializers.DictField(child=serializers.JSONField(), required=False, default=dict)


class LegacySwitchPrimarySerializer(serializers.Serializer):
    provider_type = serializers.ChoiceField(choices=Channel.choices, help_text="The channel.")
    new_provider_id = serializers.UUIDField(help_text="Id of the integration to make primary.")


class LegacySuccessSerializer(serializers.Serializer):
    success = serializers.BooleanField()


class LegacyProviderSerializer(serializers.Serializer):
    name = serializers.CharField()
    channel = serializers.CharField()
    display_name = serializers.CharField()
    configured = serializers.BooleanField()
    is_primary = serializers.BooleanField()
    status = serializers.CharField(allow_null=True)
