"""Wall-time budgets for outbound requests: an operation's deadline, enforced three ways.

A tenant chooses a provider's timeouts, so they must bound what they say they bound: the wall
time of one operation (a send, a call, a health check), not one socket read. Inside
``deadline(seconds)``:

* each new connection's connect timeout and each answer's read timeout are cut to what is left
  (``clamped``, used by the guarded connections in ``providers.egress``);
* ``DeadlineRetry`` (urllib3's ``Retry``) starts another attempt only if the budget still holds
  its backoff plus a minimal attempt, and never sleeps past the deadline;
* a watchdog thread shuts the sockets of an operation whose deadline passed, which ends a read
  that a server keeps alive by dripping a byte at a time (a per-read timeout never fires).

Nested operations share the earliest deadline.
"""

from __future__ import annotations

import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from urllib3.exceptions import MaxRetryError
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from urllib3.util.retry import Retry

# A retry is started only if at least this much of the budget is left after its backoff.
MIN_ATTEMPT_SECONDS = 0.05

_local = threading.local()


class Operation:
    """A budget of wall time shared by every request made inside it."""

    def __init__(self, deadline: float):
        self.deadline = deadline
        self.expired = False
        self._connections: list[Any] = []
        self._lock = threading.Lock()
        self._done = False

    def remaining(self) -> float:
        return max(self.deadline - time.monotonic(), 0.0)

    def track(self, connection: Any) -> None:
        with self._lock:
            if not self._done:
                self._connections.append(connection)

    def expire(self) -> None:
        """Called by the watchdog at the deadline: cut every socket this operation is using."""
        with self._lock:
            if self._done:
                return
            self.expired = True
            for connection in self._connections:
                sock = getattr(connection, "sock", None)
                if sock is not None:
                    try:
                        # The plain socket's shutdown, also under TLS: it wakes a blocked read
                        # in the other thread without touching the TLS object it is using.
                        socket.socket.shutdown(sock, socket.SHUT_RDWR)
                    except OSError:
                        pass

    def finish(self) -> None:
        with self._lock:
            self._done = True
            self._connections.clear()


class _Watchdog:
    """One daemon thread per process that expires operations at their deadlines."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Operation]] = []
        self._condition = threading.Condition()
        self._counter = itertools.count()
        self.pid = os.getpid()
        threading.Thread(target=self._run, name="http-deadlines", daemon=True).start()

    def arm(self, operation: Operation) -> None:
        with self._condition:
            heapq.heappush(self._heap, (operation.deadline, next(self._counter), operation))
            if self._heap[0][2] is operation:  # only an earlier deadline changes the wait
                self._condition.notify()

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._heap:
                    self._condition.wait()
                deadline, _, operation = self._heap[0]
                wait = deadline - time.monotonic()
                if wait > 0:
                    self._condition.wait(wait)
                    continue
                heapq.heappop(self._heap)
            operation.expire()


_watchdog_lock = threading.Lock()
_watchdog_instance: _Watchdog | None = None


def _watchdog() -> _Watchdog:
    global _watchdog_instance
    instance = _watchdog_instance
    if instance is None or instance.pid != os.getpid():  # a forked worker starts its own
        with _watchdog_lock:
            if _watchdog_instance is None or _watchdog_instance.pid != os.getpid():
                _watchdog_instance = _Watchdog()
            instance = _watchdog_instance
    return instance


def current_operation() -> Operation | None:
    return getattr(_local, "operation", None)


@contextmanager
def deadline(seconds: float) -> Iterator[Operation]:
    """Bound the wall time of every request inside to ``seconds`` (the earliest deadline of
    nested operations wins)."""
    outer = current_operation()
    end = time.monotonic() + max(float(seconds), 0.0)
    if outer is not None and outer.deadline <= end:
        yield outer
        return
    operation = Operation(end)
    _local.operation = operation
    _watchdog().arm(operation)
    try:
        yield operation
    finally:
        operation.finish()
        _local.operation = outer


def clamped(timeout: Any) -> float | None:
    """A connection timeout cut to what is left of the current operation's budget."""
    operation = current_operation()
    value = timeout if isinstance(timeout, int | float) else None
    if operation is None:
        return value
    remaining = max(operation.remaining(), 0.001)
    return remaining if value is None else min(value, remaining)


class DeadlineRetry(Retry):
    """urllib3's Retry that also stops when the operation's budget cannot hold another try."""

    def is_exhausted(self) -> bool:
        operation = current_operation()
        return super().is_exhausted() or (operation is not None and operation.remaining() <= 0)

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        operation = current_operation()
        if operation is not None:
            pause = (new.get_retry_after(response) if response is not None and self.respect_retry_after_header else None)
            pause = new.get_backoff_time() if pause is None else pause
            if operation.remaining() < pause + MIN_ATTEMPT_SECONDS:
                raise MaxRetryError(_pool, url, error or Urllib3Timeout("the operation's time budget is spent"))
        return new

    def sleep(self, response=None) -> None:
        operation = current_operation()
        if operation is None:
            return super().sleep(response)
        pause = self.get_retry_after(response) if response is not None and self.respect_retry_after_header else None
        pause = self.get_backoff_time() if pause is None else pause
        time.sleep(max(min(pause, operation.remaining() - MIN_ATTEMPT_SECONDS), 0))


__all__ = ["DeadlineRetry", "Operation", "clamped", "current_operation", "deadline"]
