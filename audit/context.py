"""Who is acting, from where, on what: carried through a request (or a task) without passing it
around. The audit trail reads the request id and the IP; log lines (``config/logging.py``) read
the request id and, once known, the organization and the integration."""

from __future__ import annotations

import contextvars
import dataclasses
import uuid
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    request_id: str = ""
    ip: str | None = None
    organization_id: str | None = None
    integration_id: str | None = None


# RequestContext is a frozen dataclass, so sharing one default instance is safe.
_current: contextvars.ContextVar[RequestContext] = contextvars.ContextVar(
    "switchboard_request_context", default=RequestContext()  # noqa: B039
)


def current() -> RequestContext:
    return _current.get()


def new_request_id() -> str:
    return uuid.uuid4().hex


def begin(*, request_id: str | None = None, ip: str | None = None) -> contextvars.Token:
    """Start a fresh context (for a boundary that cannot use ``bound``: Celery's task signals)."""
    return _current.set(RequestContext(request_id=request_id or new_request_id(), ip=ip))


def end(token: contextvars.Token) -> None:
    _current.reset(token)


@contextmanager
def bound(*, request_id: str | None = None, ip: str | None = None):
    """A fresh context for one request or task; whatever ``set_scope`` adds inside it ends with it."""
    token = begin(request_id=request_id, ip=ip)
    try:
        yield _current.get()
    finally:
        end(token)


def set_scope(*, organization_id=None, integration_id=None) -> None:
    """Name the organization and/or integration the current request or task is working on.

    Call it inside ``bound`` (the middleware and the Celery task signals bind one per request and
    per task), which undoes it at the end; a value left out keeps what was there.
    """
    changes = {}
    if organization_id is not None:
        changes["organization_id"] = str(organization_id)
    if integration_id is not None:
        changes["integration_id"] = str(integration_id)
    if changes:
        _current.set(dataclasses.replace(_current.get(), **changes))
