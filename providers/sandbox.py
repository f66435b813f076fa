"""In-process providers for demos and tests, in the spirit of Django's ``locmem`` mail backend.

They are real providers: they validate config, "send" by recording to ``outbox`` (and, when
``record_redis_url`` names the server's own Redis, to a Redis list another process can count),
fail at a configured rate, take a configured latency (at most ten seconds), and verify webhooks
signed with HMAC-SHA256. They are registered only with ``DEBUG`` or ``SWITCHBOARD_SANDBOX``.
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

from providers import events
from providers.base import VoipProvider, WhatsAppProvider
from providers.catalog import CATALOG
from providers.config import ConfigField
from providers.errors import (
    ProviderConfigurationError,
    ProviderRejected,
    ProviderUnavailable,
    WebhookSignatureError,
)
from providers.values import (
    ATTACHMENT_KINDS,
    CallResult,
    HealthStatus,
    InboundEvent,
    OutboundCall,
    OutboundMessage,
    ProviderHealth,
    SendResult,
    Stability,
    WebhookRequest,
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


FAILURE_MODES = ("unavailable", "rejected_provider", "rejected_recipient")

MAX_LATENCY_MS = 10_000

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
)


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
                raise ProviderRejected(
                    f"Sandbox {operation} refused: credentials rejected (simulated).",
                    code="sandbox_auth", fail_over=True,
                )
            if mode == "rejected_recipient":
                raise ProviderRejected(
                    f"Sandbox {operation} refused: invalid recipient (simulated).",
                    code="sandbox_recipient",
                )
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
                if (record["provider"], record["label"], record.get("client_reference")) == (self.name, label, client_reference):
                    return record["provider_id"]
        return None

    def check_health(self) -> ProviderHealth:
        status = HealthStatus(self.setting("health", "healthy"))
        return ProviderHealth(status=status, detail=f"Sandbox reports {status.value}.")

    def verify_webhook(self, request: WebhookRequest) -> None:
        given = request.header(SIGNATURE_HEADER)
        expected = sign(self.webhook_secret, request.body)
        if not given or not hmac.compare_digest(given, expected):
            raise WebhookSignatureError("Sandbox webhook signature does not match.")

    def parse_webhook(self, request: WebhookRequest) -> list[InboundEvent]:
        """Body: ``{"events": [{"kind": ..., "provider_message_id": ..., "status": ...}]}``."""
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            raise ProviderRejected("Sandbox webhook body is not JSON.", code="malformed") from None
        parsed = []
        for item in data.get("events", []):
            cost = item.get("cost")
            parsed.append(
                InboundEvent(
                    kind=item.get("kind", events.MESSAGE_STATUS),
                    event_id=str(item.get("id", "")),
                    provider_message_id=str(item.get("provider_message_id", "")),
                    status=str(item.get("status", "")),
                    from_number=str(item.get("from", "")),
                    to_number=str(item.get("to", "")),
                    body=str(item.get("body", "")),
                    error_code=str(item.get("error_code", "")),
                    error_message=str(item.get("error_message", "")),
                    duration_seconds=item.get("duration_seconds"),
                    cost=None if cost is None else Decimal(str(cost)),
                    raw=item,
                )
            )
        return parsed


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

    def deliver_message(self, message: OutboundMessage) -> SendResult:
        self._simulate("send")
        provider_id = self._record(
            "message",
            {
                "to": message.to,
                "body": message.body,
                "attachments": [a.url for a in message.attachments],
                "client_reference": message.client_reference,
            },
        )
        return SendResult(provider_message_id=provider_id, status=events.STATUS_SENT)


class SandboxVoip(SandboxMixin, VoipProvider):
    name = "sandbox_voip"
    display_name = "Sandbox VoIP"
    description = "In-process VoIP provider for demos and tests."
    pricing = CATALOG["sandbox_voip"]

    def dial(self, call: OutboundCall) -> CallResult:
        self._simulate("call")
        provider_id = self._record(
            "call",
            {"to": call.to, "from": call.from_number, "client_reference": call.client_reference},
        )
        return CallResult(provider_call_id=provider_id, status=events.CALL_INITIATED)


__all__ = ["SandboxVoip", "SandboxWhatsApp", "outbox", "reset_outbox", "sign"]
