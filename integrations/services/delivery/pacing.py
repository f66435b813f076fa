"""Provider rate limits as pacing, not errors.

Every integration has a sends-per-second limit (config ``send_rate_limit``, else its provider's
documented default; 0 = unlimited). Before each provider call delivery waits for the
integration's turn. The turns come from one bucket per integration shared by every worker: a
GCRA (a token bucket kept as one "theoretical arrival time") in Redis, updated by a Lua script
so that the check and the take are one atomic step. Bursts are allowed up to a tenth of a
second's worth. Without Redis each process keeps its own bucket: the limit then holds per
process, not across them (logged once).

When a provider answers "too many requests" anyway (HTTP 429, Meta 130429, Twilio 20429…:
``ProviderRateLimited``), ``slow_down`` pushes that integration's next turn back by the provider's
``Retry-After`` (at most a minute; else a second): for
every worker when the integration has a limit (its bucket), for this process when it has none. That is not an outage: it never
counts towards the circuit breaker, and other integrations are not affected.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings

from integrations.models import OrganizationIntegration

logger = logging.getLogger(__name__)

BURST_SECONDS = 0.1
DEFAULT_SLOW_DOWN_SECONDS = 1.0
POLL_SECONDS = 0.25

# KEYS[1]: the integration's arrival time. ARGV: interval (s per send), burst (s), mode
# ("take" a turn, or "hold" = push the next turn to now + ARGV[1]). Returns the wait in seconds
# as a string (0 = the turn was taken). Times come from Redis itself: one clock for all workers.
_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local ttl = math.ceil((tat - now + 60) * 1000)
if ARGV[3] == 'hold' then
  local hold = now + tonumber(ARGV[1])
  if hold > tat then redis.call('SET', KEYS[1], string.format('%.6f', hold), 'PX', ttl + 1000) end
  return '0'
end
local allow_at = tat - tonumber(ARGV[2])
if now < allow_at then return string.format('%.6f', allow_at - now) end
redis.call('SET', KEYS[1], string.format('%.6f', tat + tonumber(ARGV[1])), 'PX', ttl + 1000)
return '0'
"""

_local_lock = threading.Lock()
_local: dict[str, float] = {}  # integration id -> arrival time (monotonic), the per-process fallback
_held_until: dict[str, float] = {}  # integration id -> monotonic time: a provider said "slow down" here
_script = None
_warned_at = -1e9


def send_rate_limit(integration: OrganizationIntegration) -> float:
    try:
        return integration.provider_class().send_rate_limit(integration.config)
    except Exception:
        return 0.0


def _key(integration_id) -> str:
    return f"sb:pace:{integration_id}"


def _redis_script():
    global _script
    if not settings.REDIS_URL:
        return None
    if _script is None:
        from django_redis import get_redis_connection

        _script = get_redis_connection("default").register_script(_SCRIPT)
    return _script


def _ask(integration_id, interval: float, mode: str) -> float:
    """One turn (or a hold) from the shared bucket; the per-process bucket when Redis fails."""
    global _warned_at
    try:
        script = _redis_script()
        if script is not None:
            return float(script(keys=[_key(integration_id)], args=[f"{interval:.6f}", f"{BURST_SECONDS:.6f}", mode]))
    except Exception as exc:
        now = time.monotonic()
        if now - _warned_at >= settings.ROUTE_CACHE_WARNING_INTERVAL:
            _warned_at = now
            logger.warning("Send pacing falls back to a per-process limit: Redis unavailable (%s).", type(exc).__name__)
    now = time.monotonic()
    key = str(integration_id)
    with _local_lock:
        tat = max(_local.get(key, now), now)
        if mode == "hold":
            _local[key] = max(tat, now + interval)
            return 0.0
        allow_at = tat - BURST_SECONDS
        if now < allow_at:
            return allow_at - now
        _local[key] = tat + interval
        return 0.0


def wait_turn(*, integration: OrganizationIntegration, max_wait: float | None = None) -> bool:
    """Wait until the integration may send one more message. False when that would take longer
    than ``max_wait`` (``DELIVERY_PACING_MAX_WAIT``): delivery then tries the next integration or
    retries later, without counting a failure."""
    max_wait = settings.DELIVERY_PACING_MAX_WAIT if max_wait is None else max_wait
    rate = send_rate_limit(integration)
    if rate <= 0:
        # No bucket to ask (and no Redis round trip per send): only a "slow down" this process
        # was told holds it back.
        with _local_lock:
            held = _held_until.get(str(integration.pk), 0.0) - time.monotonic()
        if held <= 0:
            return True
        if held > max_wait:
            return False
        time.sleep(held)
        return True
    interval = 1.0 / rate
    deadline = time.monotonic() + max_wait
    while True:
        wait = _ask(integration.pk, interval, "take")
        if wait <= 0:
            return True
        if time.monotonic() + wait > deadline:
            return False
        time.sleep(min(wait, POLL_SECONDS))


def slow_down(*, integration: OrganizationIntegration, seconds: float | None = None) -> None:
    """The provider said "too many requests": no worker sends through this integration for
    ``seconds`` (default one second)."""
    pause = DEFAULT_SLOW_DOWN_SECONDS if not seconds or seconds <= 0 else min(float(seconds), 60.0)
    with _local_lock:
        key = str(integration.pk)
        _held_until[key] = max(_held_until.get(key, 0.0), time.monotonic() + pause)
    if send_rate_limit(integration) > 0:
        _ask(integration.pk, pause, "hold")
