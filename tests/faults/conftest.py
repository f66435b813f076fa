"""Fixtures of the fault tests: a tenant with a token, an API client, private servers.

Every process a fault test starts (a private ``redis-server``, a gunicorn) runs in its own
process group, is waited for with a deadline, and is stopped at teardown even when the test
failed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from integrations.models import Membership, Organization
from tests.factories import make_membership, make_organization, make_user

LOOPBACK = "127.0.0.1"
GENEROUS_RATES = {"user_write": "100000/min", "org_write": "100000/min", "auth_token": "100000/min",
                  "message_send": "100000/min"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def wait_until(predicate, *, timeout: float, what: str, poll: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def stop_process_group(process: subprocess.Popen | None, *, timeout: float = 5.0) -> None:
    """SIGTERM the process group, SIGKILL what is left after ``timeout``."""
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout)
    except ProcessLookupError:
        pass


@dataclass
class Tenant:
    organization: Organization
    admin: object
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Token {self.token}", "HTTP_X_ORG_ID": str(self.organization.pk)}


@pytest.fixture
def generous_throttles(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": dict(GENEROUS_RATES)}


@pytest.fixture
def tenant(db, generous_throttles) -> Tenant:
    organization = make_organization(name="Faulty", slug="faulty")
    admin = make_user(username="faulty-admin", staff=False)
    make_membership(user=admin, organization=organization, role=Membership.Role.ADMIN)
    token, _ = Token.objects.get_or_create(user=admin)
    return Tenant(organization, admin, token.key)


@pytest.fixture
def api(tenant) -> APIClient:
    """A token-authenticated API client of ``tenant``, with its X-Org-Id."""
    api = APIClient()
    api.credentials(**tenant.headers)
    return api


class PrivateRedis:
    """A ``redis-server`` of this test alone, on a loopback port, that the test may stop and restart."""

    def __init__(self, log_path):
        self.port = free_port()
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    def ping(self) -> bool:
        result = subprocess.run(["redis-cli", "-h", LOOPBACK, "-p", str(self.port), "ping"],
                                capture_output=True, timeout=5)
        return result.stdout.strip() == b"PONG"

    def start(self) -> PrivateRedis:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", LOOPBACK, "--save", "", "--appendonly", "no"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        wait_until(lambda: self.process.poll() is not None or self.ping(), timeout=10, what="redis-server to answer")
        assert self.process.poll() is None, f"redis-server exited: {self.log_path.read_text()[-2000:]}"
        return self

    def shutdown(self) -> None:
        """Stop it the way an operator would; nothing answers on the port afterwards."""
        subprocess.run(["redis-cli", "-h", LOOPBACK, "-p", str(self.port), "shutdown", "nosave"],
                       capture_output=True, timeout=5)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        stop_process_group(self.process)


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path / "redis.log").start()
    yield server
    server.stop()
