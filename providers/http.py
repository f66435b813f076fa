"""HTTP plumbing shared by every real adapter: one ``requests.Session`` factory and error mapping.

* Timeouts are always explicit (connect, read); there is no request without one.
* urllib3 ``Retry`` retries only idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE) on read
  errors and 502/503/504. A POST that sends a message or places a call is never retried here:
  the provider may have acted on it, and a blind retry could send twice. Connection failures
  (nothing reached the provider) are retried for every method, which urllib3 does by design.
  Delivery's own retries (Celery, failover) decide what happens after a failed POST.
* Transport failures become ``ProviderUnavailable`` whose message names the failure class,
  never the URL or headers (they can carry account ids and tokens).

Sessions are kept per thread (``requests.Session`` is not thread-safe) and carry no
credentials: adapters pass authentication with each request, so one pooled session can serve
every integration without leaking one tenant's token into another's request.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any, ClassVar

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from providers.config import ConfigField
from providers.errors import ProviderError, ProviderUnavailable

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 20.0
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = (502, 503, 504)
USER_AGENT = "Switchboard/0.1 (+https://github.com/switchboard)"

_local = threading.local()


def make_session(*, retries: int = 2, backoff_factor: float = 0.2) -> requests.Session:
    """A new session with the retry policy described in the module docstring."""
    retry = Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=0,
        allowed_methods=IDEMPOTENT_METHODS,
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff_factor,
        backoff_max=5,
        # The last answer is handed back, so the adapter can read the provider's error body.
        raise_on_status=False,
        respect_retry_after_header=True,
        retry_after_max=5,
    )
    adapter = HTTPAdapter(max_retries=retry, pool_connections=8, pool_maxsize=16)
    session = requests.Session()
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


def send(
    method: str,
    url: str,
    *,
    provider: str,
    timeout: tuple[float, float],
    session: requests.Session | None = None,
    **kwargs: Any,
) -> requests.Response:
    """Send one request; transport failures raise ``ProviderUnavailable``."""
    session = session or get_session()
    try:
        return session.request(method, url, timeout=timeout, allow_redirects=False, **kwargs)
    except requests.Timeout:
        raise ProviderUnavailable(
            f"{provider} did not answer within {timeout[0]:g}s (connect) / {timeout[1]:g}s (read).",
            code="timeout",
        ) from None
    except requests.ConnectionError:
        raise ProviderUnavailable(f"{provider} could not be reached (connection failed).", code="connection_error") from None
    except requests.RequestException as exc:
        raise ProviderUnavailable(f"{provider} request failed ({type(exc).__name__}).", code="http_error") from None


def json_body(response: requests.Response, *, provider: str) -> Any:
    """The decoded JSON body; a body that is not JSON is treated as a provider outage."""
    try:
        return response.json()
    except (ValueError, json.JSONDecodeError):
        raise ProviderUnavailable(
            f"{provider} answered HTTP {response.status_code} with a body that is not valid JSON.",
            code="malformed_response",
            status=response.status_code,
        ) from None


def error_body(response: requests.Response) -> Mapping[str, Any]:
    """The JSON error body when there is one, else an empty dict (errors can be HTML)."""
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


HTTP_CONFIG_FIELDS = (
    ConfigField(
        "connect_timeout", "Connect timeout (s)", kind="float", required=False,
        default=DEFAULT_CONNECT_TIMEOUT, help_text="Seconds to wait for the provider to accept a connection.",
    ),
    ConfigField(
        "read_timeout", "Read timeout (s)", kind="float", required=False,
        default=DEFAULT_READ_TIMEOUT, help_text="Seconds to wait for the provider's answer.",
    ),
)


def base_url_field(default: str, *, required: bool = False, help_text: str = "") -> ConfigField:
    return ConfigField(
        "base_url", "API base URL", kind="url", required=required, default=default or None,
        help_text=help_text or f"Leave empty for the official endpoint ({default}); set it for a proxy or a test server.",
    )


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
            float(self.setting("connect_timeout", DEFAULT_CONNECT_TIMEOUT)),
            float(self.setting("read_timeout", DEFAULT_READ_TIMEOUT)),
        )

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
        raise self.classify_error(response)

    def request_json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        return json_body(response, provider=self.http_label)


def transient_status(status: int) -> bool:
    """Rate limits and server errors: worth retrying, here or on another provider."""
    return status == 429 or status >= 500


__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_READ_TIMEOUT",
    "HTTP_CONFIG_FIELDS",
    "HttpAdapterMixin",
    "base_url_field",
    "error_body",
    "get_session",
    "json_body",
    "make_session",
    "send",
    "transient_status",
]
