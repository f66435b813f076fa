"""Words an organization admin reads instead of our internal names: a provider's features and how
it differs from the current one as sentences, a failed connection test as what happened and what
to do, and an audit event's change as before → after (ids kept for who asks for them)."""

from __future__ import annotations

import json
import re
from typing import Any

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.text import get_text_list
from django.utils.timesince import timesince, timeuntil
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from integrations.models import OrganizationIntegration, ProviderMigration
from providers import features as f
from providers.registry import UnknownProvider, get_registry

FEATURE_WORDS = {
    f.TEMPLATES: gettext_lazy("message templates"),
    f.TEMPLATE_IMPORT: gettext_lazy("importing your approved templates"),
    f.INTERACTIVE: gettext_lazy("buttons and lists"),
    f.MEDIA: gettext_lazy("images and documents"),
    f.MEDIA_DOWNLOAD: gettext_lazy("downloading media customers send"),
    f.READ_RECEIPTS: gettext_lazy("read receipts"),
    f.REACTIONS: gettext_lazy("reactions"),
    f.SERVICE_WINDOW: gettext_lazy("WhatsApp's 24-hour reply window"),
    f.QR_PAIRING: gettext_lazy("pairing a phone by QR code"),
    f.TEXT_FALLBACK: gettext_lazy("templates and buttons sent as plain text"),
    f.CALL_INSTRUCTIONS: gettext_lazy("call scripts"),
    f.HANGUP: gettext_lazy("hanging up calls"),
    f.CALL_LOOKUP: gettext_lazy("looking up a call's duration and price"),
    f.CALL_COST: gettext_lazy("call costs reported by the provider"),
    f.CALL_SCRIPTS: gettext_lazy("scripts that run during the call"),
    f.STATUS_CALLBACKS: gettext_lazy("call status updates"),
    f.TWIML: gettext_lazy("TwiML call scripts"),
    f.SIMULATED: gettext_lazy("simulated sending (nothing leaves this server)"),
}

# Not abilities but rules a provider applies; said as what they mean, not listed as features.
RULE_FEATURES = frozenset({f.SERVICE_WINDOW, f.TEXT_FALLBACK})

STABILITY_WORDS = {"high": gettext_lazy("high"), "medium": gettext_lazy("medium"), "low": gettext_lazy("low")}
STABILITY_RANK = {"low": 0, "medium": 1, "high": 2}


def feature_list(names) -> str:
    """Feature names as one phrase: "read receipts, reactions and images and documents"."""
    words = [str(FEATURE_WORDS.get(name, name.replace("_", " "))) for name in sorted(names)]
    return get_text_list(words, _("and"))


def provider_differences(provider_class, current_class) -> list[str]:
    """How choosing ``provider_class`` changes things compared with ``current_class``, as
    sentences ("Adds read receipts and reactions.", "Unofficial: the number can be banned.")."""
    if current_class is None or provider_class is current_class:
        return []
    sentences = []
    if provider_class.official != current_class.official:
        sentences.append(
            _("Official API, supported by the network.")
            if provider_class.official
            else _("Unofficial: it acts like a phone using WhatsApp, so the number can be banned.")
            if provider_class.channel == "whatsapp"
            else _("Unofficial: the network does not support it, so the account can be blocked.")
        )
    new, now = str(provider_class.stability), str(current_class.stability)
    if new != now:
        words = {"new": STABILITY_WORDS.get(new, new), "now": STABILITY_WORDS.get(now, now)}
        sentences.append(
            _("Less reliable than the current provider (rated %(new)s; the current one: %(now)s).") % words
            if STABILITY_RANK.get(new, 1) < STABILITY_RANK.get(now, 1)
            else _("More reliable than the current provider (rated %(new)s; the current one: %(now)s).") % words
        )
    gained = set(provider_class.features) - set(current_class.features) - {f.SIMULATED}
    lost = set(current_class.features) - set(provider_class.features) - {f.SIMULATED}
    # Rules rather than abilities: said as what they mean for the messages.
    if f.SERVICE_WINDOW in gained:
        sentences.append(_("Enforces WhatsApp's 24-hour rule: after 24 hours without a reply, only templates reach a contact."))
    if f.SERVICE_WINDOW in lost:
        sentences.append(_("No 24-hour rule: free text reaches a contact at any time."))
    if f.TEXT_FALLBACK in gained:
        sentences.append(_("Templates and buttons arrive as plain text."))
    gained -= RULE_FEATURES
    lost -= RULE_FEATURES
    if gained:
        sentences.append(_("Adds %(features)s.") % {"features": feature_list(gained)})
    if lost:
        sentences.append(_("You would lose %(features)s.") % {"features": feature_list(lost)})
    return sentences


def failed_test(integration: OrganizationIntegration | None, recorded: str) -> dict[str, str]:
    """A failed connection test as what happened and what to do; ``recorded`` (the service's own
    words, with any provider code) stays available as the technical detail."""
    name = integration.display_name if integration is not None else _("The provider")
    health = integration.health_status if integration is not None else ""
    if health == OrganizationIntegration.Health.DOWN:
        happened = _("%(name)s did not answer the connection test, or refused it.") % {"name": name}
        todo = _("Check its settings and credentials with “Change configuration”, then retry the test. "
                 "If the provider has an outage, retry later or choose another provider.")
    elif health == OrganizationIntegration.Health.DEGRADED:
        happened = _("%(name)s answered, but reports that it is not working fully.") % {"name": name}
        todo = _("Retry in a few minutes; if it stays degraded, choose another provider.")
    else:
        happened = _("%(name)s cannot take traffic yet.") % {"name": name}
        todo = _("Fix what the details below say with “Change configuration”, then retry the test.")
    return {"happened": happened, "todo": todo, "detail": recorded}


# ----- audit events

FIELD_WORDS = {
    "state": gettext_lazy("state"),
    "status": gettext_lazy("status"),
    "is_primary": gettext_lazy("primary"),
    "health_status": gettext_lazy("health"),
    "health": gettext_lazy("health"),
    "display_name": gettext_lazy("name"),
    "priority": gettext_lazy("fallback priority"),
    "config": gettext_lazy("settings"),
    "credential_fields": gettext_lazy("stored credentials"),
    "credentials_replaced": gettext_lazy("credentials replaced"),
    "progress": gettext_lazy("progress"),
    "source": gettext_lazy("from"),
    "target": gettext_lazy("to"),
    "target_provider_name": gettext_lazy("provider"),
    "provider_name": gettext_lazy("provider"),
    "latency_ms": gettext_lazy("answer time (ms)"),
    "detail": gettext_lazy("detail"),
    "removed_integrations": gettext_lazy("removed"),
    "kept_integrations": gettext_lazy("kept"),
}
# Never repeated in words: the row's own id and what every event of the trail shares.
SKIPPED_FIELDS = {"id", "channel"}
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


# Stored codes said with the models' own (translated) labels.
VALUE_LABELS = {
    "state": ProviderMigration.State,
    "status": OrganizationIntegration.Status,
    "health": OrganizationIntegration.Health,
    "health_status": OrganizationIntegration.Health,
}


def _value_words(value: Any, names: dict[str, str], key: str = "") -> str:
    choices = VALUE_LABELS.get(key)
    if choices is not None and isinstance(value, str) and value in choices.values:
        return str(choices(value).label)
    if key in ("provider_name", "target_provider_name") and isinstance(value, str):
        try:
            return get_registry().get(value).display_name
        except UnknownProvider:
            return value
    if value is None or value == "" or value == []:
        return _("none")
    if value is True:
        return _("yes")
    if value is False:
        return _("no")
    if isinstance(value, str) and UUID.match(value):
        return f"“{names[value]}”" if value in names else _("another integration")
    if isinstance(value, list):
        return ", ".join(_value_words(item, names) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key} {_value_words(item, names)}" for key, item in sorted(value.items())) or _("none")
    return str(value)


def audit_change(before: dict | None, after: dict | None, *, names: dict[str, str] | None = None) -> list[str]:
    """An audit event's change as "field: before → after" lines (only what changed; a value
    alone when there was nothing before). Ids become the names in ``names``."""
    names = names or {}
    before, after = before or {}, after or {}
    lines = []
    for key in [k for k in after if k not in SKIPPED_FIELDS] + [k for k in before if k not in after and k not in SKIPPED_FIELDS]:
        label = str(FIELD_WORDS.get(key, key.replace("_", " ")))
        if key in before and key in after:
            if before[key] != after[key]:
                lines.append(f"{label}: {_value_words(before[key], names, key)} → {_value_words(after[key], names, key)}")
        elif key in after:
            if not before:
                lines.append(f"{label}: {_value_words(after[key], names, key)}")
            else:
                lines.append(f"{label}: {_('none')} → {_value_words(after[key], names, key)}")
        else:
            lines.append(f"{label}: {_value_words(before[key], names, key)} → {_('none')}")
    return lines


def audit_raw(event) -> str:
    """The event as stored (ids included), for who asks for it."""
    return json.dumps({"target_id": event.target_id, "before": event.before, "after": event.after},
                      indent=1, sort_keys=True, default=str)


# ----- timestamps: one way everywhere — relative in the text, the full date on hover


def relative_when(value) -> str:
    """ "just now", "3 minutes ago", "2 days ago" (the reader's language)."""
    if value is None:
        return ""
    if (timezone.now() - value).total_seconds() < 60:
        return _("just now")
    return _("%(since)s ago") % {"since": timesince(value, depth=1)}


def remaining_when(value) -> str:
    """How long until ``value``: "3 hours", "5 minutes" (the reader's language); "" once past."""
    if value is None or value <= timezone.now():
        return ""
    return timeuntil(value, depth=1)


def full_when(value) -> str:
    """The full date and time in the reader's language and the site's time zone, for hovering."""
    return "" if value is None else date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")
