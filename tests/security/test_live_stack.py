"""The findings tried again as the report tried them: over HTTP, against a running gunicorn
(``config/gunicorn.py``, DEBUG off) on the test database and Redis.

One server for the module; each probe is one finding of issue 12 (the in-process tests of this
directory go deeper into each).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest
import requests
from django.conf import settings
from rest_framework.authtoken.models import Token

from integrations.models import Membership, OrganizationIntegration
from tests.factories import make_integration, make_membership, make_organization, make_user
from tests.faults.conftest import LOOPBACK, free_port, stop_process_group, wait_until
from tests.integrations.workers import database_url

pytestmark = pytest.mark.slow

EVOLUTION_TOKEN_PROBE = "whsec-live-stack-" + uuid.uuid4().hex[:12]
STORED_KEY = "waha-stored-key-0123456789"
TOKEN_RATE = 5


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
        env = {
            **os.environ,
            "DEBUG": "false",
            "DATABASE_URL": database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "ALLOWED_HOSTS": LOOPBACK,
            "GUNICORN_BIND": f"{LOOPBACK}:{self.port}",
            "GUNICORN_WORKERS": "1",
            "LOG_LEVEL": "WARNING",
            "API_TOKEN_RATE": f"{TOKEN_RATE}/min",
            "API_USER_WRITE_RATE": "100000/min",
            "API_ORG_WRITE_RATE": "100000/min",
        }
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py", "config.wsgi:application",
                 "--timeout", "30", "--graceful-timeout", "2"],
                cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        wait_until(lambda: self.process.poll() is not None or self._healthy(), timeout=30, what="gunicorn to serve",
                   poll=0.1)
        assert self.process.poll() is None, self.log_path.read_text()[-3000:]
        return self

    def stop(self) -> None:
        stop_process_group(self.process)


@pytest.fixture
def stack(transactional_db, tmp_path):
    server = Gunicorn(log_path=tmp_path / "gunicorn.log").start()
    cache_flush()
    yield server
    server.stop()


def cache_flush() -> None:
    from django.core.cache import cache

    cache.clear()


def test_the_findings_over_http(stack):
    organization = make_organization(name="Live", slug="live")
    victim = make_organization(name="Victim", slug="victim-live")
    admin = make_user(username="live-admin", staff=True)
    make_membership(user=admin, organization=organization, role=Membership.Role.ADMIN)
    make_membership(user=admin, organization=victim, role=Membership.Role.ADMIN)
    token = Token.objects.create(user=admin).key
    bridge = make_integration(organization=organization, provider_name="whatsapp_web",
                              config={"base_url": "https://bridge.example.com", "api": "evolution"},
                              credentials={"api_key": STORED_KEY})
    headers = {"Authorization": f"Token {token}", "X-Org-Id": str(organization.pk), "Content-Type": "application/json"}
    base = stack.url

    # 1. base_url changed without the secret: refused, nothing written.
    moved = requests.patch(f"{base}/api/v1/integrations/{bridge.pk}/", headers=headers, timeout=10,
                           data=json.dumps({"config": {"base_url": "http://127.0.0.1:9/", "api": "evolution"}}))
    assert moved.status_code == 400 and moved.json()["code"] == "credentials_required", moved.text[:300]
    # 9. the masked hint sent back keeps the stored secret.
    hints = requests.get(f"{base}/api/v1/integrations/{bridge.pk}/", headers=headers, timeout=10).json()["credentials"]
    kept = requests.patch(f"{base}/api/v1/integrations/{bridge.pk}/", headers=headers, timeout=10,
                          data=json.dumps({"credentials": hints}))
    assert kept.status_code == 200
    assert OrganizationIntegration.objects.get(pk=bridge.pk).credentials["api_key"] == STORED_KEY
    # 4. a UUID-shaped X-Org-Id names that organization's id.
    listed = requests.get(f"{base}/api/v1/integrations/", headers={**headers, "X-Org-Id": str(victim.pk)}, timeout=10)
    assert listed.status_code == 200 and listed.json()["count"] == 0
    # 11. 50k-deep JSON is a 400.
    deep = requests.post(f"{base}/api/v1/integrations/", headers=headers, timeout=10,
                         data=b'{"config": ' + b"[" * 50_000 + b"]" * 50_000 + b"}")
    assert deep.status_code == 400
    # 10. a 100k-deep webhook body with the bridge's token (header) is a 400; 12. the legacy
    # ?token= in the URL never reaches the access log.
    webhook = f"{base}/webhooks/{bridge.pk}/"
    body = b"[" * 100_000 + b"]" * 100_000
    assert requests.post(webhook, data=body, timeout=10,
                         headers={"X-Webhook-Token": bridge.webhook_secret, "Content-Type": "application/json"}).status_code == 400
    assert requests.post(f"{webhook}?token={EVOLUTION_TOKEN_PROBE}", data=b"{}", timeout=10,
                         headers={"Content-Type": "application/json"}).status_code == 403
    # 7. forged X-Forwarded-For does not reset the token throttle.
    statuses = [requests.post(f"{base}/api/v1/auth/token/", timeout=10,
                              json={"username": f"nobody-{n}", "password": "guess"},
                              headers={"X-Forwarded-For": f"198.51.100.{n}"}).status_code for n in range(TOKEN_RATE + 3)]
    assert statuses[:TOKEN_RATE] == [400] * TOKEN_RATE and set(statuses[TOKEN_RATE:]) == {429}, statuses

    stack.stop()
    log = stack.log_path.read_text()
    assert f"/webhooks/{bridge.pk}/" in log, "the access log was written"
    assert EVOLUTION_TOKEN_PROBE not in log and bridge.webhook_secret not in log and STORED_KEY not in log
    assert "Traceback" not in log, log[-3000:]
