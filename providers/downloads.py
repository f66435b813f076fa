"""Bounded downloads of inbound media, shared by the adapters that fetch it.

Requests go through ``providers.http.send`` (the egress guard, the time budget, transport
errors as ``ProviderUnavailable``), which reads at most ``max_bytes``: the declared
``Content-Length`` first, then the body in chunks, abandoned as soon as it grows past the
limit (here ``media_too_large``). ``send`` never follows a redirect; a redirect is followed
here, through ``send`` again, at most ``MAX_REDIRECTS`` times and *without* the credentials,
which are meant for the provider's API host only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from providers import events
from providers.errors import ProviderError, ProviderRejected, ProviderUnavailable
from providers.http import send
from providers.values import MediaContent

MAX_REDIRECTS = 2


def too_large(max_bytes: int) -> ProviderRejected:
    return ProviderRejected(f"The media is larger than the {max_bytes}-byte limit.", code=events.ERROR_MEDIA_TOO_LARGE)


def fetch(
    url: str,
    *,
    max_bytes: int,
    provider: str,
    timeout: tuple[float, float],
    auth_kwargs: dict[str, Any],
    classify_error: Callable[[requests.Response], ProviderError],
) -> MediaContent:
    """GET ``url`` with ``auth_kwargs`` (headers or ``auth``), then any redirect without them."""
    kwargs = dict(auth_kwargs)
    for _ in range(MAX_REDIRECTS + 1):
        try:
            response = send("GET", url, provider=provider, timeout=timeout, max_bytes=max_bytes, **kwargs)
        except ProviderUnavailable as exc:
            if exc.code == "response_too_large":
                raise too_large(max_bytes) from None
            raise
        if response.status_code in (301, 302, 303, 307, 308) and response.headers.get("Location"):
            url = urljoin(url, response.headers["Location"])
            if urlsplit(url).scheme not in ("http", "https"):
                raise ProviderUnavailable(f"{provider} redirected the media download to a non-HTTP address.", code="bad_redirect")
            kwargs = {}  # credentials stay with the provider's own host
            continue
        if not 200 <= response.status_code < 300:
            raise classify_error(response)
        mime_type = response.headers.get("Content-Type", "").split(";", 1)[0].strip()
        return MediaContent(content=response.content, mime_type=mime_type, filename=_filename(response))
    raise ProviderUnavailable(f"{provider} redirected the media download too many times.", code="too_many_redirects")


def _filename(response: requests.Response) -> str:
    disposition = response.headers.get("Content-Disposition", "")
    for part in disposition.split(";"):
        name, _, value = part.strip().partition("=")
        if name.lower() == "filename" and value:
            return value.strip('"')[:255]
    return ""


__all__ = ["fetch", "too_large"]
