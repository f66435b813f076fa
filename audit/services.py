"""Writing the audit trail."""

from __future__ import annotations

from typing import Any

from audit import context
from audit.models import AuditEvent

REDACTED = "••••"
# Keys whose values never enter the trail, whatever dict they arrive in.
SECRET_KEY_PARTS = ("credential", "secret", "token", "password", "api_key", "apikey", "auth")
# Keys that hold the *names* of credential fields, never their values.
FIELD_NAME_KEYS = frozenset({"credential_fields", "credentials_replaced"})


def actor_label(actor: Any) -> str:
    """``user:<username>`` for a user, the string itself for ``system:<job>`` actors."""
    if actor is None:
        return "system:unknown"
    if isinstance(actor, str):
        return actor
    username = getattr(actor, "get_username", None)
    return f"user:{username()}" if username else str(actor)


def redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: (
                REDACTED
                if key not in FIELD_NAME_KEYS and any(part in str(key).lower() for part in SECRET_KEY_PARTS)
                else redact(item)
            )
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value


def record(
    *,
    action: str,
    actor: Any,
    organization: Any = None,
    target: Any = None,
    before: dict | None = None,
    after: dict | None = None,
    outcome: str = AuditEvent.Outcome.SUCCESS,
    reason: str = "",
) -> AuditEvent:
    """Append one event. Call it inside the transaction of the change it describes."""
    ctx = context.current()
    user = None if isinstance(actor, str) or actor is None else actor
    return AuditEvent.objects.create(
        organization=organization,
        actor=actor_label(actor)[:150],
        actor_user=user if getattr(user, "pk", None) else None,
        action=action,
        target_type=target._meta.model_name if target is not None and hasattr(target, "_meta") else "",
        target_id=str(getattr(target, "pk", "") or "") if target is not None else "",
        target_repr=str(target)[:255] if target is not None else "",
        before=redact(before) if before is not None else None,
        after=redact(after) if after is not None else None,
        outcome=outcome,
        reason=reason or "",
        ip=ctx.ip,
        request_id=ctx.request_id,
    )
