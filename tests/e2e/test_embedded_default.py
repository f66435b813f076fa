"""The embedded default that `make run` starts (SQLite, local-memory cache, eager Celery) works
end to end: migrate, seed the demo, send a message through the API's service and see it sent.

This is the only place SQLite appears in the suite: it is what a newcomer runs first, and it
must keep working when the PostgreSQL paths are tuned.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.slow

SEND = """
from integrations.models import Organization
from integrations.services.delivery.intake import send_message
organization = Organization.objects.get(slug="demo")
message, _ = send_message(organization=organization, channel="whatsapp", to="+14155550123", body="hi", actor="system:e2e")
message.refresh_from_db()
print("STATUS", message.status, message.provider_name)
"""


def run(args, env):
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=180
    )


def test_make_run_configuration_seeds_and_delivers(tmp_path: Path):
    env = {
        **os.environ,
        "DEBUG": "true",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "REDIS_URL": "",
        "CELERY_TASK_ALWAYS_EAGER": "true",
    }
    migrate = run(["migrate", "--noinput", "-v", "0"], env)
    assert migrate.returncode == 0, migrate.stderr[-2000:]
    seed = run(["seed_demo"], env)
    assert seed.returncode == 0, seed.stderr[-2000:]
    assert "Login:    admin / switchboard-demo" in seed.stdout
    send = run(["shell", "-c", SEND], env)
    assert send.returncode == 0, send.stderr[-2000:]
    assert "STATUS sent sandbox_whatsapp" in send.stdout
