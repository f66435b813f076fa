"""Whether this process can serve: the database and Redis answer."""

from __future__ import annotations

from django.conf import settings
from django.db import connections

# Readiness probes run every few seconds; a dependency that takes longer than this is down.
PROBE_TIMEOUT_SECONDS = 1.0


def _database() -> str | None:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return f"unreachable ({type(exc).__name__})"
    return None


def _redis() -> str | None:
    url = settings.REDIS_URL
    if not url:
        return None  # the embedded default runs without Redis: local-memory cache, eager Celery
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=PROBE_TIMEOUT_SECONDS, socket_timeout=PROBE_TIMEOUT_SECONDS)
    try:
        client.ping()
    except Exception as exc:
        return f"unreachable ({type(exc).__name__})"
    finally:
        client.close()
    return None


def service_readiness() -> dict[str, str]:
    """Dependency name → "ok" or why not. Error texts name the exception type only: a
    connection string (with its password) never leaves this function."""
    checks = {"database": _database(), "redis": _redis()}
    return {name: problem or "ok" for name, problem in checks.items()}


def celery_broker_state() -> str:
    """"eager" (no broker: tasks run in-process), "reachable", or why it is not."""
    from celery import current_app

    if current_app.conf.task_always_eager:
        return "eager"
    try:
        with current_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return f"unreachable ({type(exc).__name__})"
    return "reachable"
