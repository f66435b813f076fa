"""Make sure PostgreSQL and Redis answer before the test suite runs.

A service on this machine (the URL names a loopback address at the default port) that does not
answer is started with the same command CI uses; anything else, or a start that fails, ends
with a clear message saying how to start it.
"""

import os
import subprocess
import sys
import time
from urllib.parse import urlparse

import psycopg
import redis

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
START = {
    "PostgreSQL": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "Redis": "mkdir -p /var/lib/redis /var/log/redis && "
    'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" '
    "--appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log",
}
DEFAULT_PORT = {"PostgreSQL": 5432, "Redis": 6379}
START_WAIT_SECONDS = 30


def check_postgres(url: str) -> str | None:
    parsed = urlparse(url)
    try:
        # The maintenance database: the test run creates its own test database.
        with psycopg.connect(
            host=parsed.hostname, port=parsed.port or 5432, user=parsed.username or "postgres",
            password=parsed.password, dbname="postgres", connect_timeout=3,
        ) as conn:
            conn.execute("select 1")
    except Exception as exc:  # noqa: BLE001 - report whatever it is
        return f"{type(exc).__name__}: {exc}".strip()
    return None


def check_redis(url: str) -> str | None:
    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {exc}"
    return None


def startable_here(name: str, url: str) -> bool:
    """Only a service this machine's own command would start: loopback, default port."""
    parsed = urlparse(url)
    return parsed.hostname in LOCAL_HOSTS and (parsed.port or DEFAULT_PORT[name]) == DEFAULT_PORT[name]


def start(name: str, url: str, check) -> str | None:
    """Start the service and wait for it; the problem that remains, or None."""
    print(f"{name} is not answering at {url}; starting it: {START[name]}", flush=True)
    started = subprocess.run(START[name], shell=True, capture_output=True, text=True)  # noqa: S602
    if started.returncode != 0:
        output = (started.stderr or started.stdout).strip().splitlines()
        return f"the start command failed ({output[-1] if output else f'exit {started.returncode}'})"
    deadline = time.monotonic() + START_WAIT_SECONDS
    while True:
        problem = check(url)
        if problem is None or time.monotonic() > deadline:
            return problem
        time.sleep(1)


def main() -> int:
    database_url = os.environ["DATABASE_URL"]
    redis_url = os.environ["REDIS_URL"]
    failures = []
    for name, url, check in (("PostgreSQL", database_url, check_postgres), ("Redis", redis_url, check_redis)):
        problem = check(url)
        if problem and startable_here(name, url):
            problem = start(name, url, check)
        if problem:
            failures.append(f"{name} is not answering at {url}: {problem}\n  start it with: {START[name]}")
    if failures:
        print("The test suite needs real services.\n" + "\n".join(failures), file=sys.stderr)
        return 1
    print(f"PostgreSQL and Redis are answering ({database_url}, {redis_url}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
