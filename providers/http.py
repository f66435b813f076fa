"""Every HTTP request the server makes on a tenant's behalf goes through ``send`` here.

Provider API calls, health checks, pairing and notification webhooks all use it; nothing else
opens an outbound connection for a tenant.

* **The egress guard.** ``send`` refuses a URL the policy refuses outright (scheme, user info,
  plain http to a host that is not allowlisted), and every session mounts
  ``providers.egress.GuardedAdapter``, whose connections resolve the host themselves, check
  *every* address of the answer and connect to the address they checked: a DNS answer that
  changes between a check and the connection (rebinding) cannot reach an internal address,
  because there is no second lookup. Redirects are never followed. The allowlist is
  ``settings.PROVIDER_EGRESS_ALLOWLIST``; the rules are in ``providers.egress``.
* **Bounded time.** Timeouts are explicit (connect, read) and at most ``MAX_TIMEOUT``. The read
  timeout is also the wall-time budget of one operation, retries and backoff included
  (``providers.deadlines``): retries stop when the budget cannot hold another attempt, each
  attempt's timeouts are cut to what is left, and a watchdog shuts the socket when the budget
  runs out, so a server that drips one byte at a time cannot hold a worker either.
* **Retries.** urllib3 ``Retry`` retries only idempotent methods (GET, HEAD, OPTIONS, PUT,
  DELETE) on read errors and 502/503/504. A POST that sends a message or places a call is never
  retried here: the provider may have acted on it. Connection failures (nothing reached the
  provider) are retried for every method, which urllib3 does by design.
* **Bounded answers.** A body larger than ``MAX_RESPONSE_BYTES`` is refused, not read.
* **Sanitized failures.** Transport failures become ``ProviderUnavailable`` naming the failure
  class, never the URL or headers. A non-2xx answer becomes the adapter's ``classify_error``
  (status, the provider's documented code and message), bounded by ``ProviderError``; an
  adapter whose classification fails still yields a generic error by status.

Sessions are kept per thread (``requests.Session`` is not thread-safe) and carry no
credentials: adapters pass authentication with each request, so one pooled session can serve
every integration without leaking one tenant's token into another's request.
"""

from __future__ import annotations

import logging
import math
import socket
import threading
from collections.abc import Mapping
from typing import Any, ClassVar

import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from providers.config import ConfigField
from providers.deadlines import DeadlineRetry, deadline
from providers.egress import GuardedAdapter, egress_policy, url_problem
from providers.errors import EgressRefused, ProviderError, ProviderRejected, ProviderUnavailable

logger = logging.getLogger(__name__)

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 20.0
MAX_TIMEOUT = 30.0
MAX_RESPONSE_BYTES = 2 * 1024 * 1024
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = (502, 503, 504)
USER_AGENT = "Switchboard/0.1 (+https://github.com/switchboard)"

_local = threading.local()


# ----- sessions and sending


class GuardedSession(requests.Session):
    """A session that never follows, nor even prepares, a redirect: requests would otherwise
    read a 3xx body whole (unbounded) to prepare the next request."""

    def get_redirect_target(self, resp: requests.Response) -> None:
        return None


def make_session(*, retries: int = 2, backoff_factor: float = 0.2) -> requests.Session:
    """A new session with the guard and the retry policy described in the module docstring."""
    retry = DeadlineRetry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=0,
        redirect=0,
        allowed_methods=IDEMPOTENT_METHODS,
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff_factor,
        backoff_max=5,
        # The last answer is handed back, so the adapter can read the provider's error body.
        raise_on_status=False,
        raise_on_redirect=False,
        respect_retry_after_header=True,
        retry_after_max=5,
    )
    adapter = GuardedAdapter(max_retries=retry, pool_connections=8, pool_maxsize=16)
    session = GuardedSession()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    # Never pick up credentials from ~/.netrc or proxies from the environment by surprise.
    session.trust_env = False
    return session


def get_session() -> requests.Session:
    """The calling thread's shared session."""
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = make_session()
    return session


def bounded_timeout(value: Any, default: float) -> float:
    """A timeout in (0, MAX_TIMEOUT]; a value that is not a positive finite number is the default
    (validation refuses such values; this guards rows stored before it did)."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return default
    if not math.isfinite(number) or number <= 0:
        return default
    return min(number, MAX_TIMEOUT)


def _timed_out(exc: BaseException | None) -> bool:
    """Whether a transport failure was a timeout (urllib3 files a refused connection under
    its timeout errors too, which is not one)."""
    while exc is not None:
        if isinstance(exc, MaxRetryError):
            exc = exc.reason
            continue
        if isinstance(exc, NewConnectionError):
            return False
        if isinstance(exc, Urllib3Timeout | socket.timeout):
            return True
        exc = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc.__cause__
    return False


def _read_body(response: requests.Response, *, provider: str, max_bytes: int) -> None:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        response.close()
        raise ProviderUnavailable(f"{provider} answered with a body over {max_bytes // 1024} KiB.", code="response_too_large")
    chunks, size = [], 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        if size > max_bytes:
            response.close()
            raise ProviderUnavailable(f"{provider} answered with a body over {max_bytes // 1024} KiB.", code="response_too_large")
        chunks.append(chunk)
    response._content = b"".join(chunks)


def send(
    method: str,
    url: str,
    *,
    provider: str,
    timeout: tuple[float, float],
    session: requests.Session | None = None,
    max_bytes: int = MAX_RESPONSE_BYTES,
    **kwargs: Any,
) -> requests.Response:
    """Send one request through the egress guard within ``timeout[1]`` seconds of wall time.

    Transport failures raise ``ProviderUnavailable``; a refused destination ``EgressRefused``.
    """
    problem = url_problem(url, egress_policy())
    if problem:
        raise EgressRefused(f"{provider}: the URL {problem}.")
    connect = bounded_timeout(timeout[0], DEFAULT_CONNECT_TIMEOUT)
    read = bounded_timeout(timeout[1], DEFAULT_READ_TIMEOUT)
    session = session or get_session()
    with deadline(read) as operation:
        try:
            left = max(operation.remaining(), 0.001)
            response = session.request(
                method, url, timeout=(min(connect, left), min(read, left)), allow_redirects=False, stream=True, **kwargs
            )
            try:
                _read_body(response, provider=provider, max_bytes=max_bytes)
            except BaseException:
                response.close()
                raise
            if operation.expired:  # the watchdog cut the socket: whatever was read is partial
                raise requests.Timeout()
            return response
        except ProviderError:
            raise
        except requests.RequestException as exc:
            if operation.expired or _timed_out(exc):
                raise ProviderUnavailable(f"{provider} did not answer within {read:g}s.", code="timeout") from None
            if isinstance(exc, requests.ConnectionError):
                raise ProviderUnavailable(f"{provider} could not be reached (connection failed).", code="connection_error") from None
            raise ProviderUnavailable(f"{provider} request failed ({type(exc).__name__}).", code="http_error") from None


def json_body(response: requests.Response, *, provider: str) -> Any:
    """The decoded JSON body; a body that is not JSON is treated as a provider outage."""
    try:
        return response.json()
    except (ValueError, RecursionError):
        raise ProviderUnavailable(
            f"{provider} answered HTTP {response.status_code} with a body that is not valid JSON.",
            code="malformed_response",
            status=response.status_code,
        ) from None


def error_body(response: requests.Response) -> Mapping[str, Any]:
    """The JSON error body when there is one, else an empty dict (errors can be HTML)."""
    try:
        data = response.json()
    except (ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


HTTP_CONFIG_FIELDS = (
    ConfigField(
        "connect_timeout", "Connect timeout (s)", kind="float", required=False,
        default=DEFAULT_CONNECT_TIMEOUT, min_value=0, exclusive_min=True, max_value=MAX_TIMEOUT,
        help_text=f"Seconds to wait for the provider to accept a connection (at most {MAX_TIMEOUT:g}).",
    ),
    ConfigField(
        "read_timeout", "Read timeout (s)", kind="float", required=False,
        default=DEFAULT_READ_TIMEOUT, min_value=0, exclusive_min=True, max_value=MAX_TIMEOUT,
        help_text=f"Seconds one operation may take in all, retries included (at most {MAX_TIMEOUT:g}).",
    ),
)


def base_url_field(default: str, *, required: bool = False, help_text: str = "") -> ConfigField:
    return ConfigField(
        "base_url", "API base URL", kind="url", required=required, default=default or None, destination=True,
        help_text=help_text or f"Leave empty for the official endpoint ({default}); set it for a proxy or a test server.",
    )


def retry_after_seconds(response) -> float | None:
    """The ``Retry-After`` of a response in seconds (the delta-seconds form), or None."""
    try:
        value = float(str(response.headers.get("Retry-After", "")).strip())
    except (AttributeError, ValueError):
        return None
    return value if 0 < value < 3600 else None


def transient_status(status: int) -> bool:
    """Rate limits and server errors: worth retrying, here or on another provider."""
    return status == 429 or status >= 500


def error_for_status(label: str, status: int) -> ProviderError:
    """The error for a non-2xx answer when nothing better can be read from it."""
    if transient_status(status):
        return ProviderUnavailable(f"{label} answered HTTP {status}.", code=status, status=status)
    return ProviderRejected(f"{label} refused the request (HTTP {status}).", code=status, status=status, fail_over=status in (401, 403))


class HttpAdapterMixin:
    """What an HTTP adapter shares: base URL and timeouts from config, one ``request`` step.

    A subclass sets ``default_base_url`` and ``http_label`` and implements
    ``auth_kwargs`` (headers or ``auth`` for each request) and ``classify_error`` (turn a
    non-2xx answer into ``ProviderUnavailable`` or ``ProviderRejected``).
    """

    default_base_url: ClassVar[str] = ""
    http_label: ClassVar[str] = "The provider"

    setting: Any  # provided by Provider; the mixin must come first in the bases

    def base_url(self) -> str:
        return str(self.setting("base_url") or self.default_base_url).rstrip("/")

    def timeouts(self) -> tuple[float, float]:
        return (
            bounded_timeout(self.setting("connect_timeout", DEFAULT_CONNECT_TIMEOUT), DEFAULT_CONNECT_TIMEOUT),
            bounded_timeout(self.setting("read_timeout", DEFAULT_READ_TIMEOUT), DEFAULT_READ_TIMEOUT),
        )

    def operation_budget(self) -> float | None:
        """One public operation (a send, a call, a health check) takes at most the read timeout."""
        return self.timeouts()[1]

    def auth_kwargs(self) -> dict[str, Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement auth_kwargs()")

    def classify_error(self, response: requests.Response) -> ProviderError:
        raise NotImplementedError(f"{type(self).__name__} must implement classify_error()")

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Call ``base_url + path``; a non-2xx answer raises what ``classify_error`` says."""
        auth = self.auth_kwargs()
        headers = {**auth.pop("headers", {}), **kwargs.pop("headers", {})}
        response = send(
            method,
            self.base_url() + path,
            provider=self.http_label,
            timeout=self.timeouts(),
            headers=headers,
            **auth,
            **kwargs,
        )
        if 200 <= response.status_code < 300:
            return response
        raise self._error_from(response)

    def _error_from(self, response: requests.Response) -> ProviderError:
        try:
            error = self.classify_error(response)
        except Exception:  # an answer the adapter did not expect must still fail cleanly
            logger.warning("%s: could not classify an HTTP %s answer", self.http_label, response.status_code, exc_info=True)
            error = None
        if not isinstance(error, ProviderError):
            return error_for_status(self.http_label, response.status_code)
        if error.status is None:
            error.status = response.status_code
        return error

    def request_json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        return json_body(response, provider=self.http_label)


__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_READ_TIMEOUT",
    "HTTP_CONFIG_FIELDS",
    "MAX_RESPONSE_BYTES",
    "MAX_TIMEOUT",
    "HttpAdapterMixin",
    "base_url_field",
    "bounded_timeout",
    "deadline",
    "egress_policy",
    "error_body",
    "error_for_status",
    "get_session",
    "json_body",
    "make_session",
    "send",
    "transient_status",
]
