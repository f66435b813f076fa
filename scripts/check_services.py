"""Say clearly whether PostgreSQL and Redis answer, and how to start them when they do not."""

import os
import sys
from urllib.parse import urlparse

import psycopg
import redis

HELP = {
    "PostgreSQL": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "Redis": 'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" '
    "--appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log",
}


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


def main() -> int:
    database_url = os.environ["DATABASE_URL"]
    redis_url = os.environ["REDIS_URL"]
    failures = []
    for name, url, check in (("PostgreSQL", database_url, check_postgres), ("Redis", redis_url, check_redis)):
        problem = check(url)
        if problem:
            failures.append(f"{name} is not answering at {url}: {problem}\n  start it with: {HELP[name]}")
    if failures:
        print("The test suite needs real services.\n" + "\n".join(failures), file=sys.stderr)
        return 1
    print(f"PostgreSQL and Redis are answering ({database_url}, {redis_url}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
