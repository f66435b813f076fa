"""Idempotency keys name one request: a replay gets the stored row back, another request under
the same key is refused.

No column holds a hash of the first request: the stored row *is* its record (what intake cleaned
and stored), so a replay is compared field by field with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext as _

from integrations.errors import IdempotencyKeyReused


def differs(row, fields: Mapping[str, Any]) -> bool:
    """Whether ``fields`` (a cleaned request) ask for something else than the stored ``row``:
    the stored row is the request's record, so comparing with it is comparing with a hash of the
    first request, without a column for one."""
    # A free-form message outside the service window may have been stored as the fallback
    # template, its text carried as the template's variable (services.delivery.window).
    converted = "template" not in fields and getattr(row, "template_id", None) is not None
    for name, value in fields.items():
        if name == "created_by":
            continue
        if converted and name == "body":
            if value != row.body and value not in (getattr(row, "template_variables", None) or {}).values():
                return True
            continue
        stored = getattr(row, f"{name}_id" if name == "template" else name, None)
        wanted = getattr(value, "pk", value) if name == "template" else value
        if stored != wanted:
            return True
    return False


def replay(row, fields: Mapping[str, Any]):
    if differs(row, fields):
        raise IdempotencyKeyReused(
            _("This Idempotency-Key was already used for a different request; send a new key for a new message or call.")
        )
    return row, False


__all__ = ["differs", "replay"]
