"""The optional operations of the channel bases, each behind a feature the class declares.

=================  =========================  ==========================================
public operation   step a subclass provides   what the base adds
=================  =========================  ==========================================
list_templates     fetch_templates            feature ``template_import``; page bound
download_media     fetch_media                feature ``media_download``; size bound
hangup             end_call                   feature ``hangup``; timing, scrubbing
fetch_call         lookup_call                feature ``call_lookup``; timing, scrubbing
continue_call      continue_call              (VoIP) act on a call event; default nothing
=================  =========================  ==========================================

Without the feature, the public operation raises ``ProviderRejected(code="unsupported",
fail_over=True)``. ``WhatsAppProvider`` and ``VoipProvider`` (``providers.base``) mix these in;
``require``, ``timed`` and ``display_name`` come from ``Provider``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from providers import events, features
from providers.errors import ProviderRejected
from providers.values import (
    CallResult,
    HangupResult,
    InboundEvent,
    MediaContent,
    OutboundMessage,
    ProviderTemplate,
)

# A template import reads at most this many pages, whatever the caller asks: a provider that
# keeps answering "next" cannot keep a worker busy for ever.
MAX_TEMPLATE_PAGES = 50


class MessagingOperations:
    """Templates, interactive messages and media for ``WhatsAppProvider``."""

    require: Any
    timed: Any
    display_name: str

    def check_business_message(self, message: OutboundMessage) -> None:
        """A template or an interactive message: declared by the provider, well formed, alone."""
        if message.template is not None and message.interactive is not None:
            raise ProviderRejected("A message is a template or an interactive message, not both.", code="invalid_message")
        if message.attachments:
            raise ProviderRejected(
                "Templates and interactive messages carry no attachments; a template's media goes in its header.",
                code="invalid_message",
            )
        if message.template is not None:
            self.require(features.TEMPLATES, "send templates")
            problems = message.template.problems()
            code = "invalid_template"
        else:
            self.require(features.INTERACTIVE, "send interactive messages")
            problems = message.interactive.problems()
            code = "invalid_interactive"
        if problems:
            raise ProviderRejected(" ".join(problems), code=code)

    def list_templates(self, *, max_pages: int = 10) -> list[ProviderTemplate]:
        """The provider's templates with their approval status, provider-neutral.

        Reads at most ``max_pages`` pages (capped at ``MAX_TEMPLATE_PAGES``).
        """
        self.require(features.TEMPLATE_IMPORT, "list templates")
        pages = max(1, min(int(max_pages), MAX_TEMPLATE_PAGES))
        result, _ = self.timed(self.fetch_templates, max_pages=pages)
        return result

    def fetch_templates(self, *, max_pages: int) -> list[ProviderTemplate]:
        raise NotImplementedError(f"{type(self).__name__} must implement fetch_templates()")

    def download_media(self, reference: str, *, max_bytes: int) -> MediaContent:
        """Fetch inbound media by the reference an ``InboundEvent`` attachment carries.

        Never reads more than ``max_bytes``: a larger file raises
        ``ProviderRejected(code="media_too_large")`` without being kept.
        """
        self.require(features.MEDIA_DOWNLOAD, "download media")
        if int(max_bytes) <= 0:
            raise ValueError("max_bytes must be positive.")
        result, _ = self.timed(self.fetch_media, str(reference), max_bytes=int(max_bytes))
        if result.size > max_bytes:  # a step that forgot its bound must not leak past ours
            raise ProviderRejected(f"The media is larger than {max_bytes} bytes.", code=events.ERROR_MEDIA_TOO_LARGE)
        return result

    def fetch_media(self, reference: str, *, max_bytes: int) -> MediaContent:
        raise NotImplementedError(f"{type(self).__name__} must implement fetch_media()")


class CallOperations:
    """Call control for ``VoipProvider``."""

    require: Any
    timed: Any

    def hangup(self, provider_call_id: str) -> HangupResult:
        """End a call in progress, or cancel one still queued or ringing."""
        self.require(features.HANGUP, "hang up calls")
        if not provider_call_id:
            raise ProviderRejected("No provider call id to hang up.", code="invalid_call")
        result, elapsed = self.timed(self.end_call, str(provider_call_id))
        return result if result.latency_ms is not None else replace(result, latency_ms=elapsed)

    def end_call(self, provider_call_id: str) -> HangupResult:
        raise NotImplementedError(f"{type(self).__name__} must implement end_call()")

    def fetch_call(self, provider_call_id: str) -> CallResult:
        """The call as the provider sees it now: status and, once known, its price."""
        self.require(features.CALL_LOOKUP, "look up calls")
        result, elapsed = self.timed(self.lookup_call, str(provider_call_id))
        return result if result.latency_ms is not None else replace(result, latency_ms=elapsed)

    def lookup_call(self, provider_call_id: str) -> CallResult:
        raise NotImplementedError(f"{type(self).__name__} must implement lookup_call()")

    def continue_call(self, event: InboundEvent) -> None:
        """Act on a call event after it is stored (``CALL_STATUS`` and ``CALL_PROGRESS``).

        Adapters whose instructions run as commands during the call (Telnyx: speak, playback
        after ``call.answered``) issue the next one here. Default: nothing to do.
        """


__all__ = ["MAX_TEMPLATE_PAGES", "CallOperations", "MessagingOperations"]
