"""Write throttles: per user and per organization (DRF answers 429 with ``Retry-After``).

Rates come from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``, read on every request so that a
settings change (or a test's override) takes effect without a restart.
"""

from __future__ import annotations

import hashlib
import logging
import time

from django.conf import settings
from rest_framework.permissions import SAFE_METHODS
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

logger = logging.getLogger(__name__)

_last_warning_at: dict[str, float] = {}


class _WriteThrottle(SimpleRateThrottle):
    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return True
        try:
            return super().allow_request(request, view)
        except Exception as exc:
            # The counters live in the cache (Redis). Without it, writes go through unthrottled
            # rather than failing: a Redis outage must not take the API down.
            _warn_cache_down(self.scope, exc)
            return True


def _warn_cache_down(scope: str, exc: Exception) -> None:
    now = time.monotonic()
    if now - _last_warning_at.get(scope, -1e9) >= settings.ROUTE_CACHE_WARNING_INTERVAL:
        _last_warning_at[scope] = now
        logger.warning("Throttle %s not applied: cache unavailable (%s).", scope, type(exc).__name__)


class UserWriteThrottle(_WriteThrottle):
    scope = "user_write"

    def get_cache_key(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class OrganizationWriteThrottle(_WriteThrottle):
    """Shared by every user of one organization: one tenant cannot flood the service."""

    scope = "org_write"

    def get_cache_key(self, request, view):
        organization = getattr(request, "organization", None)
        if organization is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": organization.pk}


class TokenRequestThrottle(_WriteThrottle):
    """Password guessing through the token endpoint, per client address: ``REMOTE_ADDR``, or
    with ``TRUST_PROXY`` the address the trusted proxy saw (``NUM_PROXIES``), never an
    ``X-Forwarded-For`` the client wrote itself."""

    scope = "auth_token"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class TokenUsernameThrottle(_WriteThrottle):
    """Password guessing through the token endpoint, per username, whatever the address: a
    guesser with many addresses is still held to the rate for one account."""

    scope = "auth_token_username"

    def get_cache_key(self, request, view):
        try:
            username = request.data.get("username") if hasattr(request.data, "get") else None
        except Exception:  # a body that does not parse is refused by the view, not counted here
            return None
        if not isinstance(username, str) or not username.strip():
            return None
        digest = hashlib.sha256(username.strip().casefold().encode("utf-8", "replace")).hexdigest()[:32]
        return self.cache_format % {"scope": self.scope, "ident": digest}


class MessageSendThrottle(_WriteThrottle):
    """Message and call sends, per organization, at their own rate (``message_send``): far above
    the configuration-write throttles, so that intake keeps up with what providers carry. The
    organization's queue depth limit (``MESSAGE_QUEUE_DEPTH_LIMIT``) is what bounds the backlog."""

    scope = "message_send"

    def get_cache_key(self, request, view):
        organization = getattr(request, "organization", None)
        if organization is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": organization.pk}
