"""Who is acting, from where: carried through a request (or a task) without passing it around."""

from __future__ import annotations

import contextvars
import uuid
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    request_id: str = ""
    ip: str | None = None


# RequestContext is a frozen dataclass, so sharing one default instance is safe.
_current: contextvars.ContextVar[RequestContext] = contextvars.ContextVar(
    "switchboard_request_context", default=RequestContext()  # noqa: B039
)


def current() -> RequestContext:
    return _current.get()


def new_request_id() -> str:
    return uuid.uuid4().hex


@contextmanager
def bound(*, request_id: str | None = None, ip: str | None = None):
    token = _current.set(RequestContext(request_id=request_id or new_request_id(), ip=ip))
    try:
        yield _current.get()
    finally:
        _current.reset(token)
