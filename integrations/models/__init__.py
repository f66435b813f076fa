"""The tenant-facing domain: organizations, their provider integrations, messages and calls.

The invariants that matter most live in the database, not only here: one primary per
(organization, channel) is a partial unique index, and a primary must be active (a check).
Writes go through ``integrations.services``; only ``services.switching.switch_primary`` sets
``is_primary`` (a test walks the source to keep it so).
"""

from integrations.models.conversation_events import ConversationEvent
from integrations.models.deliveries import Call, Delivery, Direction, Message
from integrations.models.integrations import (
    IntegrationQuerySet,
    OrganizationIntegration,
    generate_webhook_secret,
)
from integrations.models.organizations import Channel, Membership, Organization, OrgScopedQuerySet
from integrations.models.policies import ChannelPolicy, Rollout, ScheduledSwitch, SpendCap
from integrations.models.provider_migrations import ProviderMigration
from integrations.models.service_windows import ServiceWindow
from integrations.models.templates import InteractiveContent, MessageTemplate, TemplateMapping

__all__ = [
    "Call",
    "Channel",
    "ConversationEvent",
    "ChannelPolicy",
    "Delivery",
    "Direction",
    "IntegrationQuerySet",
    "InteractiveContent",
    "Membership",
    "Message",
    "MessageTemplate",
    "OrgScopedQuerySet",
    "Organization",
    "OrganizationIntegration",
    "ProviderMigration",
    "Rollout",
    "ScheduledSwitch",
    "SpendCap",
    "ServiceWindow",
    "TemplateMapping",
    "generate_webhook_secret",
]
