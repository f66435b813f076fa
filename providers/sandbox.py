"""In-process providers for demos and tests, in the spirit of Django's ``locmem`` mail backend.

They are real providers: they validate config, "send" by recording to ``outbox`` (and, when
``record_redis_url`` names the server's own Redis, to a Redis list another process can count),
fail at a configured rate, take a configured latency (at most ten seconds), and verify webhooks
signed with HMAC-SHA256. They are registered only with ``DEBUG`` or ``SWITCHBOARD_SANDBOX``.

Every optional operation is implemented (templates recorded with their rendered text, the
``DEMO_TEMPLATES`` catalog, ``sandbox-media:<name>`` downloads, hang-up) for the demo and tests.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import threading
import time
import uuid
from decimal import Decimal
from typing import Any

from providers import events, features
from providers.base import VoipProvider, WhatsAppProvider
from providers.catalog import CATALOG
from providers.config import ConfigField
from providers.errors import (
    ProviderConfigurationError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
    WebhookSignatureError,
)
from providers.values import (
    ATTACHMENT_KINDS,
    Attachment,
    CallResult,
    HangupResult,
    HealthStatus,
    InboundEvent,
    InteractiveReply,
    MediaContent,
    OutboundCall,
    OutboundMessage,
    ProviderHealth,
    ProviderTemplate,
    Reaction,
    SendResult,
    Stability,
    SystemNotice,
    TemplateButton,
    TemplateStatus,
    WebhookRequest,
    placeholders,
)

# Every send of every sandbox instance in this process, oldest first: (provider name, label,
# payload dict). Tests read it like ``django.core.mail.outbox``.
outbox: list[dict[str, Any]] = []
_outbox_lock = threading.Lock()

SIGNATURE_HEADER = "X-Sandbox-Signature"
RECORD_KEY = "switchboard:sandbox:sent"
# Hash client reference → provider id, written in the same Redis transaction as RECORD_KEY, so
# ``lookup_sent`` can answer like a provider that supports idempotent lookups.
REFERENCE_KEY = "switchboard:sandbox:references"

_redis_clients: dict[str, Any] = {}


def reset_outbox() -> None:
    with _outbox_lock:
        outbox.clear()


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


FAILURE_MODES = ("unavailable", "rejected_provider", "rejected_recipient", "rate_limited")

MAX_LATENCY_MS = 10_000
MAX_MEDIA_BYTES = 10 * 1024 * 1024

SANDBOX_FIELDS = (
    ConfigField("api_key", "API key", secret=True, required=False,
                help_text="Any value; shown masked, to demonstrate credential handling."),
    ConfigField("sender", "Sender number", kind="phone", required=False,
                help_text="E.164 number messages appear to come from."),
    ConfigField("latency_ms", "Simulated latency (ms)", kind="int", required=False, default=0,
                min_value=0, max_value=MAX_LATENCY_MS),
    ConfigField("failure_rate", "Failure rate", kind="float", required=False, default=0,
                min_value=0, max_value=1, help_text="From 0 (never) to 1 (always)."),
    ConfigField("failure_mode", "How failures fail", kind="choice", required=False,
                choices=FAILURE_MODES, default="unavailable"),
    ConfigField("health", "Reported health", kind="choice", required=False,
                choices=tuple(s.value for s in HealthStatus if s != HealthStatus.UNKNOWN),
                default="healthy"),
    ConfigField("label", "Recording label", required=False, max_length=100,
                help_text="Recorded with each send, to tell sandbox integrations apart."),
    # Only the operator's own Redis (settings.REDIS_URL) is accepted: a tenant never chooses
    # where a worker connects.
    ConfigField("record_redis_url", "Record sends to Redis", required=False,
                help_text="The server's own Redis URL; each send is appended to a list other processes can read."),
    ConfigField("template_status", "Reported template approval", kind="choice", required=False,
                choices=("approved", "pending", "rejected", "paused"), default="approved",
                help_text="The approval status list_templates reports for the demo templates."),
    ConfigField("media_size", "Size of downloaded media (bytes)", kind="int", required=False, default=1024,
                min_value=0, max_value=MAX_MEDIA_BYTES, help_text="How many bytes a sandbox media download returns."),
)

# The sandbox's template catalog, as list_templates reports it.
DEMO_TEMPLATES = (
    ("sbx-tpl-order-update", "order_update", "pt_BR", "utility", "Olá {{1}}, seu pedido {{2}} foi enviado.", ("Rastrear",)),
    ("sbx-tpl-order-update-en", "order_update", "en_US", "utility", "Hi {{1}}, your order {{2}} has shipped.", ("Track",)),
    ("sbx-tpl-welcome", "welcome_offer", "en_US", "marketing", "Welcome {{1}}! Use code {{2}} for 10% off.", ()),
)
MEDIA_TYPES = {"jpg": "image/jpeg", "png": "image/png", "pdf": "application/pdf", "ogg": "audio/ogg", "mp4": "video/mp4"}
MEDIA_PREFIX = "sandbox-media:"


def _operator_redis_url() -> str:
    from django.conf import settings

    return str(getattr(settings, "REDIS_URL", "") or "")


class SandboxMixin:
    """Shared behaviour of the two sandbox channels."""

    official = True
    stability = Stability.HIGH
    config_fields = SANDBOX_FIELDS
    features = frozenset({"simulated"})
    simulated = True

    config: dict[str, Any]
    credentials: dict[str, Any]
    webhook_secret: str
    name: str

    @classmethod
    def clean_config(cls, config, credentials):
        url = config.get("record_redis_url")
        if url and str(url) != _operator_redis_url():
            return {"record_redis_url": "Only the server's own Redis can record sandbox sends."}
        return {}

    def _simulate(self, operation: str) -> None:
        latency = _bounded(self.setting("latency_ms", 0), 0, MAX_LATENCY_MS)
        if latency > 0:
            time.sleep(latency / 1000)
        rate = _bounded(self.setting("failure_rate", 0), 0, 1)
        if rate > 0 and random.random() < rate:
            mode = self.setting("failure_mode", "unavailable")
            if mode == "rejected_provider":
                raise ProviderRejected(f"Sandbox {operation} refused: credentials rejected (simulated).",
                                       code="sandbox_auth", fail_over=True)
            if mode == "rejected_recipient":
                raise ProviderRejected(f"Sandbox {operation} refused: invalid recipient (simulated).", code="sandbox_recipient")
            if mode == "rate_limited":
                raise ProviderRateLimited(f"Sandbox {operation}: too many requests (simulated).", code="sandbox_429", status=429)
            raise ProviderUnavailable(f"Sandbox {operation} failed (simulated outage).", code="sandbox_503")

    def _record(self, kind: str, payload: dict[str, Any]) -> str:
        provider_id = f"sbx-{uuid.uuid4().hex}"
        record = {
            "provider": self.name,
            "label": self.setting("label", ""),
            "kind": kind,
            "provider_id": provider_id,
            **payload,
        }
        with _outbox_lock:
            outbox.append(record)
        client = self._recorder()
        if client is not None:
            try:
                with client.pipeline(transaction=True) as pipe:
                    pipe.rpush(RECORD_KEY, json.dumps(record))
                    if payload.get("client_reference"):
                        pipe.hset(
                            REFERENCE_KEY,
                            payload["client_reference"],
                            json.dumps({"provider_id": provider_id, "label": record["label"]}),
                        )
                    pipe.execute()
            except Exception as exc:  # a recording failure is an outage of this provider
                raise ProviderUnavailable(f"Sandbox recorder unreachable: {type(exc).__name__}") from None
        return provider_id

    def _recorder(self):
        url = self.setting("record_redis_url")
        if not url:
            return None
        if str(url) != _operator_redis_url():
            raise ProviderConfigurationError("Sandbox sends can be recorded only to the server's own Redis.")
        client = _redis_clients.get(url)
        if client is None:
            import redis

            client = _redis_clients.setdefault(url, redis.Redis.from_url(url))
        return client

    def lookup_sent(self, client_reference: str) -> str | None:
        """Answers only for sends of this sandbox integration (same provider and label)."""
        label = self.setting("label", "")
        client = self._recorder()
        if client is not None:
            try:
                found = client.hget(REFERENCE_KEY, client_reference)
            except Exception as exc:
                raise ProviderUnavailable(f"Sandbox recorder unreachable: {type(exc).__name__}") from None
            entry = json.loads(found) if found else None
            return entry["provider_id"] if entry and entry["label"] == label else None
        with _outbox_lock:
            for record in outbox:
                if record.get("client_reference") and (
                    (record["provider"], record["label"], record["client_reference"]) == (self.name, label, client_reference)
                ):
                    return record["provider_id"]
        return None

    def check_health(self) -> ProviderHealth:
        time.sleep(_bounded(self.setting("latency_ms", 0), 0, MAX_LATENCY_MS) / 1000)  # a round trip too
        status = HealthStatus(self.setting("health", "healthy"))
        return ProviderHealth(status=status, detail=f"Sandbox reports {status.value}.")

    def verify_webhook(self, request: WebhookRequest) -> None:
        given = request.header(SIGNATURE_HEADER)
        expected = sign(self.webhook_secret, request.body)
        if not given or not hmac.compare_digest(given, expected):
            raise WebhookSignatureError("Sandbox webhook signature does not match.")

    def parse_webhook(self, request: WebhookRequest) -> list[InboundEvent]:
        """Body: ``{"events": [{"kind": ..., "provider_message_id": ..., "status": ...}]}``.

        An event item may also carry ``chat_id``, ``chat_kind``, ``sender_id``,
        ``sender_kind``, ``provider_status``, ``related_message_id``, ``attachments``
        (``[{"url", "mime_type", "caption"}]``), ``reply`` (``{"kind", "id", "title"}``),
        ``reaction`` (``{"emoji"}``) and ``system`` (``{"type", "body", "new_id"}``).
        """
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            raise ProviderRejected("Sandbox webhook body is not JSON.", code="malformed") from None
        if not isinstance(data, dict):
            raise ProviderRejected("Sandbox webhook body is not a JSON object.", code="malformed")
        return [_sandbox_event(item) for item in data.get("events", []) if isinstance(item, dict)]


def _sandbox_event(item: dict[str, Any]) -> InboundEvent:
    cost = item.get("cost")
    reply, reaction, system = item.get("reply"), item.get("reaction"), item.get("system")
    return InboundEvent(
        kind=str(item.get("kind", events.MESSAGE_STATUS)),
        event_id=str(item.get("id", "")),
        provider_message_id=str(item.get("provider_message_id", "")),
        status=str(item.get("status", "")),
        from_number=str(item.get("from", "")),
        to_number=str(item.get("to", "")),
        body=str(item.get("body", "")),
        attachments=tuple(Attachment.from_dict(a) for a in item.get("attachments") or () if isinstance(a, dict)),
        error_code=str(item.get("error_code", "")),
        error_message=str(item.get("error_message", "")),
        duration_seconds=item.get("duration_seconds"),
        cost=None if cost is None else Decimal(str(cost)),
        currency=item.get("currency"),
        raw=item,
        chat_id=str(item.get("chat_id", "")),
        chat_kind=str(item.get("chat_kind", "")),
        sender_id=str(item.get("sender_id", "")),
        sender_kind=str(item.get("sender_kind", "")),
        provider_status=str(item.get("provider_status", "")),
        related_message_id=str(item.get("related_message_id", "")),
        reply=InteractiveReply(kind=str(reply.get("kind", events.REPLY_BUTTON)), id=str(reply.get("id", "")),
                               title=str(reply.get("title", "")), description=str(reply.get("description", "")))
        if isinstance(reply, dict) else None,
        reaction=Reaction(emoji=str(reaction.get("emoji", ""))) if isinstance(reaction, dict) else None,
        system=SystemNotice(type=str(system.get("type", "")), body=str(system.get("body", "")), new_id=str(system.get("new_id", "")))
        if isinstance(system, dict) else None,
    )


def _bounded(value: Any, low: float, high: float) -> float:
    """A stored number held inside its bounds (rows saved before validation bounded them)."""
    try:
        number = float(value or 0)
    except (TypeError, ValueError, OverflowError):
        return low
    return min(max(number, low), high) if number == number else low


class SandboxWhatsApp(SandboxMixin, WhatsAppProvider):
    name = "sandbox_whatsapp"
    display_name = "Sandbox WhatsApp"
    description = "In-process WhatsApp provider for demos and tests."
    attachment_kinds = frozenset(ATTACHMENT_KINDS)
    pricing = CATALOG["sandbox_whatsapp"]
    features = frozenset({
        features.SIMULATED, features.MEDIA, features.READ_RECEIPTS, features.REACTIONS, features.TEMPLATES,
        features.TEMPLATE_IMPORT, features.INTERACTIVE, features.MEDIA_DOWNLOAD,
    })

    def deliver_message(self, message: OutboundMessage) -> SendResult:
        self._simulate("send")
        record: dict[str, Any] = {
            "to": message.to,
            "body": message.body,
            "attachments": [a.url for a in message.attachments],
            "client_reference": message.client_reference,
        }
        if message.template is not None:
            template = message.template
            try:
                rendered = template.rendered_text()
            except ValueError as exc:
                raise ProviderRejected(str(exc), code=events.ERROR_TEMPLATE_PARAMETERS) from None
            record.update(body=rendered, template={
                "name": template.name, "language": template.language, "variables": dict(template.variables),
                "category": template.category,
            })
        elif message.interactive is not None:
            interactive = message.interactive
            record.update(body=interactive.as_text(), interactive={
                "kind": interactive.kind, "options": [list(option) for option in interactive.options()],
            })
        provider_id = self._record("message", record)
        return SendResult(provider_message_id=provider_id, status=events.STATUS_SENT)

    def fetch_templates(self, *, max_pages: int) -> list[ProviderTemplate]:
        self._simulate("template list")
        status = TemplateStatus.from_provider(self.setting("template_status", "approved"))
        return [
            ProviderTemplate(
                provider_template_id=template_id, name=name, language=language, status=status, category=category,
                body=body, variables=placeholders(body),
                buttons=tuple(TemplateButton(kind="quick_reply", text=text) for text in buttons),
                rejection_reason="Rejected (simulated)." if status == TemplateStatus.REJECTED else "",
            )
            for template_id, name, language, category, body, buttons in DEMO_TEMPLATES
        ]

    def fetch_media(self, reference: str, *, max_bytes: int) -> MediaContent:
        if not reference.startswith(MEDIA_PREFIX):
            raise ProviderRejected("Not a sandbox media reference.", code="invalid_media_reference")
        self._simulate("media download")
        name = reference[len(MEDIA_PREFIX):]
        size = int(_bounded(self.setting("media_size", 1024), 0, MAX_MEDIA_BYTES))
        if size > max_bytes:
            raise ProviderRejected(f"The media is {size} bytes; the limit is {max_bytes}.", code=events.ERROR_MEDIA_TOO_LARGE)
        seed = hashlib.sha256(name.encode()).digest()
        content = (seed * (size // len(seed) + 1))[:size]
        return MediaContent(content=content, mime_type=MEDIA_TYPES.get(name.rsplit(".", 1)[-1].lower(), "application/octet-stream"),
                            filename=name)


class SandboxVoip(SandboxMixin, VoipProvider):
    name = "sandbox_voip"
    display_name = "Sandbox VoIP"
    description = "In-process VoIP provider for demos and tests."
    pricing = CATALOG["sandbox_voip"]
    features = frozenset({
        features.SIMULATED, features.CALL_INSTRUCTIONS, features.HANGUP, features.CALL_LOOKUP, features.STATUS_CALLBACKS,
    })

    def dial(self, call: OutboundCall) -> CallResult:
        self._simulate("call")
        provider_id = self._record(
            "call",
            {"to": call.to, "from": call.from_number, "client_reference": call.client_reference,
             "twiml": call.twiml, "url": call.url},
        )
        return CallResult(provider_call_id=provider_id, status=events.CALL_INITIATED)

    def _calls(self, provider_call_id: str) -> list[dict[str, Any]]:
        with _outbox_lock:
            found = [r for r in outbox if r["provider"] == self.name and provider_call_id in (r["provider_id"], r.get("call_id"))]
        if not found:
            raise ProviderRejected("The sandbox placed no such call.", code="call_not_found")
        return found

    def end_call(self, provider_call_id: str) -> HangupResult:
        self._simulate("hang-up")
        records = self._calls(provider_call_id)
        if any(r["kind"] == "hangup" for r in records):
            return HangupResult(provider_call_id=provider_call_id, status=events.CALL_COMPLETED, already_ended=True)
        self._record("hangup", {"call_id": provider_call_id, "client_reference": None})
        return HangupResult(provider_call_id=provider_call_id, status=events.CALL_COMPLETED)

    def lookup_call(self, provider_call_id: str) -> CallResult:
        records = self._calls(provider_call_id)
        ended = any(r["kind"] == "hangup" for r in records)
        return CallResult(provider_call_id=provider_call_id, status=events.CALL_COMPLETED if ended else events.CALL_INITIATED)


__all__ = ["SandboxVoip", "SandboxWhatsApp", "outbox", "reset_outbox", "sign"]
