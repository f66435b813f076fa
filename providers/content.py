"""Value objects for business messaging: templates, interactive messages, what customers send
back, downloaded media, and template descriptions read from a provider.

All of them are provider-neutral. What differs per provider rides in ``TemplateMapping``
(Meta: name + language + components; Twilio: a Content SID + its variables; bridges: nothing,
they send the rendered text). Limits are Meta's (the strictest official API), so a message
that validates here is accepted by every adapter: reply buttons ≤ 3 with titles ≤ 20
characters, lists ≤ 10 rows in ≤ 10 sections, row titles ≤ 24, descriptions ≤ 72, body ≤ 1024
(as documented in the ``pywa`` library's ``types/callback.py`` and ``client.py``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")

MAX_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_REPLY_ID = 256
MAX_ROWS = 10
MAX_SECTIONS = 10
MAX_ROW_TITLE = 24
MAX_ROW_DESCRIPTION = 72
MAX_SECTION_TITLE = 24
MAX_INTERACTIVE_BODY = 1024
MAX_HEADER_FOOTER = 60


def placeholders(text: str) -> tuple[str, ...]:
    """The variable names in ``text`` (``{{1}}``, ``{{name}}``), in order of first use."""
    seen: list[str] = []
    for name in PLACEHOLDER.findall(text or ""):
        if name not in seen:
            seen.append(name)
    return tuple(seen)


def render(text: str, variables: Mapping[str, Any]) -> str:
    """Fill ``{{name}}`` placeholders; a missing variable is a ``ValueError`` naming it."""
    missing = [name for name in placeholders(text) if name not in variables]
    if missing:
        raise ValueError(f"Missing template variable(s): {', '.join(missing)}.")
    return PLACEHOLDER.sub(lambda match: str(variables[match.group(1)]), text or "")


# --------------------------------------------------------------------------- templates


class TemplateCategory(StrEnum):
    """Meta's pricing categories; Twilio reports the same three for approved content."""

    MARKETING = "marketing"
    UTILITY = "utility"
    AUTHENTICATION = "authentication"


class TemplateStatus(StrEnum):
    """Approval state, normalized from Meta's and Twilio's words (upper- or lower-case)."""

    APPROVED = "approved"
    PENDING = "pending"  # submitted, in review (Meta PENDING/IN_APPEAL, Twilio received/pending)
    REJECTED = "rejected"
    PAUSED = "paused"  # Meta paused it for low quality; sending fails until it recovers
    DISABLED = "disabled"  # Meta disabled it for good
    UNSUBMITTED = "unsubmitted"  # Twilio content never sent for WhatsApp approval
    UNKNOWN = "unknown"

    @classmethod
    def from_provider(cls, value: Any) -> TemplateStatus:
        text = str(value or "").strip().lower()
        if not text:
            return cls.UNSUBMITTED
        aliases = {
            "approved": cls.APPROVED, "pending": cls.PENDING, "in_appeal": cls.PENDING,
            "received": cls.PENDING, "pending_deletion": cls.DISABLED, "rejected": cls.REJECTED,
            "paused": cls.PAUSED, "disabled": cls.DISABLED, "deleted": cls.DISABLED,
            "unsubmitted": cls.UNSUBMITTED,
        }
        return aliases.get(text, cls.UNKNOWN)


@dataclass(frozen=True)
class TemplateButton:
    """A button of a template. ``kind``: quick_reply, url, phone_number, copy_code, other."""

    kind: str
    text: str = ""
    url: str = ""
    phone_number: str = ""


@dataclass(frozen=True)
class TemplateMapping:
    """How one integration names a template (the per-provider part of a template send).

    * Meta: ``name`` and ``language`` when they differ from the template's own; ``components``
      to send exactly these Meta components instead of the ones built from the variables.
    * Twilio: ``content_sid`` (``HX…``); ``variable_names`` maps our variable names to the
      Content's placeholders when they differ (our ``customer`` → Twilio's ``1``).
    * Bridges and the sandbox need nothing: they send ``TemplateMessage.rendered_text()``.
    """

    name: str = ""
    language: str = ""
    components: tuple[Mapping[str, Any], ...] = ()
    content_sid: str = ""
    variable_names: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TemplateHeader:
    """A template's header: text (with its own variables) or a media link."""

    text_variables: Mapping[str, str] = field(default_factory=dict)
    media_url: str = ""
    media_kind: str = ""  # image, document, video
    filename: str = ""


@dataclass(frozen=True)
class TemplateButtonValue:
    """The dynamic part of one template button at send time: a quick reply's payload or the
    variable suffix of a URL button. ``index`` is the button's position (0-based)."""

    index: int
    kind: str  # quick_reply or url
    value: str


@dataclass(frozen=True)
class TemplateMessage:
    """A template send, provider-neutral.

    ``text`` is the template body with ``{{…}}`` placeholders; bridges (which have no
    templates) and the sandbox send ``rendered_text()``. ``category`` prices the message.
    """

    name: str
    language: str
    variables: Mapping[str, str] = field(default_factory=dict)
    text: str = ""
    category: str = ""
    header: TemplateHeader | None = None
    buttons: tuple[TemplateButtonValue, ...] = ()
    mapping: TemplateMapping = field(default_factory=TemplateMapping)

    def rendered_text(self) -> str:
        return render(self.text, self.variables) if self.text else ""

    def problems(self) -> list[str]:
        found = []
        if not self.name:
            found.append("A template needs a name.")
        if not self.language:
            found.append("A template needs a language.")
        for name, value in self.variables.items():
            if not isinstance(value, str) or len(value) > 1024:
                found.append(f"Variable {name!r} must be text of at most 1024 characters.")
        return found


@dataclass(frozen=True)
class ProviderTemplate:
    """A template as a provider describes it (``list_templates``), provider-neutral.

    ``provider_template_id`` is Meta's template id or Twilio's Content SID; ``variables`` the
    placeholder names of the body in order. ``raw`` keeps the provider's record.
    """

    provider_template_id: str
    name: str
    language: str
    status: TemplateStatus
    category: str = ""
    body: str = ""
    header: str = ""
    header_format: str = ""  # text, image, document, video, location or ""
    footer: str = ""
    buttons: tuple[TemplateButton, ...] = ()
    variables: tuple[str, ...] = ()
    rejection_reason: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def approved(self) -> bool:
        return self.status == TemplateStatus.APPROVED


# --------------------------------------------------------------------------- interactive


@dataclass(frozen=True)
class ReplyButton:
    id: str
    title: str


@dataclass(frozen=True)
class ListRow:
    id: str
    title: str
    description: str = ""


@dataclass(frozen=True)
class ListSection:
    title: str
    rows: tuple[ListRow, ...]


@dataclass(frozen=True)
class InteractiveMessage:
    """Reply buttons (``buttons``, 1-3) or a list (``sections`` behind a ``button_text``).

    Official providers render them natively; bridges send ``as_text()``, a numbered text the
    customer answers by number. ``provider_content_id`` is an existing Twilio Content SID for
    exactly this message, when the caller has one (Twilio sends interactive messages as
    Content; without it the adapter creates one and returns its SID in ``SendResult.raw``).
    """

    body: str
    buttons: tuple[ReplyButton, ...] = ()
    sections: tuple[ListSection, ...] = ()
    button_text: str = ""
    header: str = ""
    footer: str = ""
    provider_content_id: str = ""

    @property
    def kind(self) -> str:
        return "list" if self.sections else "buttons"

    def options(self) -> list[tuple[str, str, str]]:
        """Every choice as (id, title, description), in display order."""
        if self.sections:
            return [(row.id, row.title, row.description) for section in self.sections for row in section.rows]
        return [(button.id, button.title, "") for button in self.buttons]

    def problems(self) -> list[str]:
        found: list[str] = []
        if not self.body.strip():
            found.append("An interactive message needs a body.")
        if len(self.body) > MAX_INTERACTIVE_BODY:
            found.append(f"The body is at most {MAX_INTERACTIVE_BODY} characters.")
        for label, text in (("header", self.header), ("footer", self.footer)):
            if len(text) > MAX_HEADER_FOOTER:
                found.append(f"The {label} is at most {MAX_HEADER_FOOTER} characters.")
        if bool(self.buttons) == bool(self.sections):
            found.append("Give either reply buttons or list sections, not both and not neither.")
        if len(self.buttons) > MAX_BUTTONS:
            found.append(f"At most {MAX_BUTTONS} reply buttons.")
        for button in self.buttons:
            if not button.title or len(button.title) > MAX_BUTTON_TITLE:
                found.append(f"Button titles are 1-{MAX_BUTTON_TITLE} characters ({button.title!r}).")
        if self.sections:
            if not self.button_text or len(self.button_text) > MAX_BUTTON_TITLE:
                found.append(f"A list needs a button text of 1-{MAX_BUTTON_TITLE} characters.")
            if len(self.sections) > MAX_SECTIONS:
                found.append(f"At most {MAX_SECTIONS} sections.")
            rows = [row for section in self.sections for row in section.rows]
            if not rows or len(rows) > MAX_ROWS or any(not section.rows for section in self.sections):
                found.append(f"A list has 1-{MAX_ROWS} rows in all, and every section at least one.")
            for section in self.sections:
                if len(section.title) > MAX_SECTION_TITLE or (len(self.sections) > 1 and not section.title):
                    found.append(f"Section titles are at most {MAX_SECTION_TITLE} characters (required with several sections).")
            for row in rows:
                if not row.title or len(row.title) > MAX_ROW_TITLE:
                    found.append(f"Row titles are 1-{MAX_ROW_TITLE} characters ({row.title!r}).")
                if len(row.description) > MAX_ROW_DESCRIPTION:
                    found.append(f"Row descriptions are at most {MAX_ROW_DESCRIPTION} characters.")
        ids = [option_id for option_id, _, _ in self.options()]
        if any(not option_id or len(option_id) > MAX_REPLY_ID for option_id in ids):
            found.append(f"Every option needs an id of 1-{MAX_REPLY_ID} characters.")
        if len(set(ids)) != len(ids):
            found.append("Option ids must be unique.")
        return found

    def as_text(self) -> str:
        """The numbered text fallback bridges send: header, body, "1. Yes", …, footer."""
        lines = [self.header, self.body] if self.header else [self.body]
        numbered = []
        for number, (_, title, description) in enumerate(self.options(), start=1):
            numbered.append(f"{number}. {title}" + (f" - {description}" if description else ""))
        parts = ["\n".join(lines), "\n".join(numbered)]
        if self.footer:
            parts.append(self.footer)
        return "\n\n".join(part for part in parts if part)


# --------------------------------------------------------------------------- inbound detail


@dataclass(frozen=True)
class InteractiveReply:
    """What a customer tapped. ``kind`` is one of ``providers.events.REPLY_*``."""

    kind: str
    id: str
    title: str
    description: str = ""


@dataclass(frozen=True)
class Reaction:
    emoji: str  # empty: the reaction was removed


@dataclass(frozen=True)
class SystemNotice:
    """A platform notice. ``type`` is the provider's (Meta: user_changed_number,
    customer_identity_changed); ``new_id`` the contact's new WhatsApp id when it changed."""

    type: str
    body: str = ""
    new_id: str = ""


# --------------------------------------------------------------------------- media and calls


@dataclass(frozen=True)
class MediaContent:
    """Downloaded inbound media: never larger than the ``max_bytes`` asked for."""

    content: bytes
    mime_type: str = ""
    filename: str = ""

    @property
    def size(self) -> int:
        return len(self.content)


@dataclass(frozen=True)
class HangupResult:
    """What a hang-up request achieved.

    ``status`` is the call's final status when the provider states it in its answer (Twilio
    returns the updated call), else "" and the final status arrives by webhook.
    ``already_ended`` is true when the call had ended before we asked.
    """

    provider_call_id: str
    status: str = ""
    already_ended: bool = False
    cost: Any = None  # Decimal | None, the provider's price when it states one
    currency: str | None = None
    latency_ms: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


__all__ = [
    "HangupResult",
    "InteractiveMessage",
    "InteractiveReply",
    "ListRow",
    "ListSection",
    "MediaContent",
    "ProviderTemplate",
    "Reaction",
    "ReplyButton",
    "SystemNotice",
    "TemplateButton",
    "TemplateButtonValue",
    "TemplateCategory",
    "TemplateHeader",
    "TemplateMapping",
    "TemplateMessage",
    "TemplateStatus",
    "placeholders",
    "render",
]
