"""PostgreSQL connections dropped under a running server (``pg_terminate_backend``).

A real gunicorn (one sync worker, persistent connections: ``CONN_MAX_AGE=60``) serves the test
database. A separate psycopg connection terminates the server's backends twice:

* between requests: the next request finds its connection dead at the health check
  (``CONN_HEALTH_CHECKS``) and reconnects — it succeeds;
* in the middle of a request (the request waits on a table lock, and its backend is terminated
  while it waits): that request answers a JSON 503 with ``Retry-After`` (config/middleware.py),
  not an HTML 500 page, and the next request succeeds with a new connection.
"""

from __future__ import annotations

import subprocess
import sys
import threading

import psycopg
import pytest
import requests
from django.conf import settings
from django.db import connection

from integrations.models import OrganizationIntegration
from tests.factories import make_integration
from tests.faults.conftest import LOOPBACK, free_port, stop_process_group, wait_until
from tests.integrations.workers import database_url

pytestmark = pytest.mark.slow

CHANNEL_URL = "/api/v1/channels/whatsapp/"


class Gunicorn:
    def __init__(self, *, log_path):
        self.port = free_port()
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def _healthy(self) -> bool:
        try:
            return requests.get(self.url + "/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def start(self) -> Gunicorn:
        import os

        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "CONN_MAX_AGE": "60",
            "ALLOWED_HOSTS": LOOPBACK,
            "LOG_LEVEL": "WARNING",
            # The worker's throttle counters would otherwise carry over between runs.
            "API_USER_WRITE_RATE": "100000/min",
            "API_ORG_WRITE_RATE": "100000/min",
        }
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"{LOOPBACK}:{self.port}",
                 "--workers", "1", "--threads", "1", "--timeout", "30", "--graceful-timeout", "2"],
                cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        wait_until(lambda: self.process.poll() is not None or self._healthy(), timeout=30, what="gunicorn to serve",
                   poll=0.1)
        assert self.process.poll() is None, self.log_path.read_text()[-3000:]
        return self

    def stop(self) -> None:
        stop_process_group(self.process)


@pytest.fixture
def server(transactional_db, tmp_path):
    gunicorn = Gunicorn(log_path=tmp_path / "gunicorn.log").start()
    yield gunicorn
    gunicorn.stop()


@pytest.fixture
def admin_connection():
    """Our own PostgreSQL connection, outside Django: it terminates the server's backends."""
    db = connection.settings_dict
    conn = psycopg.connect(host=db["HOST"] or LOOPBACK, port=db["PORT"] or 5432, user=db["USER"],
                           password=db.get("PASSWORD") or None, dbname=db["NAME"], autocommit=True, connect_timeout=5)
    yield conn
    conn.close()


def terminate_other_backends(conn, *, keep: set[int]) -> int:
    """Terminate every client backend of this database except ``keep`` and our own."""
    rows = conn.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = current_database() AND backend_type = 'client backend'"
        " AND pid <> pg_backend_pid() AND NOT (pid = ANY(%s))",
        [list(keep)],
    ).fetchall()
    return sum(1 for (terminated,) in rows if terminated)


def lock_waiters(conn) -> int:
    return conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    ).fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_dropped_connections_answer_a_json_503_and_the_server_recovers_by_itself(tenant, server, admin_connection):
    make_integration(organization=tenant.organization, display_name="Primary")
    headers = {"Authorization": f"Token {tenant.token}", "X-Org-Id": str(tenant.organization.pk)}

    def get() -> requests.Response:
        return requests.get(server.url + CHANNEL_URL, headers=headers, timeout=15)

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        test_backend = cursor.fetchone()[0]

    assert get().status_code == 200

    # 1. Dropped between requests: the health check notices and reconnects; no request fails.
    assert terminate_other_backends(admin_connection, keep={test_backend}) >= 1
    assert [get().status_code for _ in range(3)] == [200, 200, 200]

    # 2. Dropped during a request: it waits on a lock, and its backend is terminated meanwhile.
    db = connection.settings_dict
    with psycopg.connect(host=db["HOST"] or LOOPBACK, port=db["PORT"] or 5432, user=db["USER"],
                         password=db.get("PASSWORD") or None, dbname=db["NAME"], connect_timeout=5) as locker:
        locker.execute(f'LOCK TABLE "{OrganizationIntegration._meta.db_table}" IN ACCESS EXCLUSIVE MODE')
        locker_pid = locker.info.backend_pid
        answers: list[requests.Response] = []
        request = threading.Thread(target=lambda: answers.append(get()))
        request.start()
        try:
            wait_until(lambda: lock_waiters(admin_connection) >= 1, timeout=10, what="the request to wait on the lock")
            assert terminate_other_backends(admin_connection, keep={test_backend, locker_pid}) >= 1
        finally:
            request.join(timeout=15)
            locker.rollback()
    assert not request.is_alive()

    (dropped,) = answers
    assert dropped.status_code == 503
    assert dropped.headers["Content-Type"] == "application/json"
    assert dropped.headers["Retry-After"] == "5"
    assert dropped.json() == {
        "code": "database_unavailable",
        "detail": "The database is unavailable at the moment; retry shortly.",
        "errors": {},
    }

    # 3. Recovered by itself: the very next requests succeed on a new connection.
    recovered = [get() for _ in range(3)]
    assert [r.status_code for r in recovered] == [200, 200, 200]
    assert recovered[0].json()["primary"]["display_name"] == "Primary"
    log = server.log_path.read_text()
    assert "Traceback" not in log
    assert f"Database unavailable during GET {CHANNEL_URL} (OperationalError); answered 503." in log


def test_the_middleware_turns_only_database_errors_into_503(rf):
    from django.db import InterfaceError

    from config.middleware import DatabaseUnavailableMiddleware

    middleware = DatabaseUnavailableMiddleware(lambda request: None)
    request = rf.get("/admin/")
    response = middleware.process_exception(request, InterfaceError("connection already closed"))
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert b"connection already closed" not in response.content
    assert middleware.process_exception(request, ValueError("a bug")) is None
