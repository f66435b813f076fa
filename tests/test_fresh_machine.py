"""What `make test` does on a machine that lacks something: it says how, in words a newcomer can act on.

The happy paths (services answering, Chromium present, or installed by root) are what every run
of the suite goes through; these tests cover the refusals, which a developer's machine rarely shows.
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def unused_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_service_that_is_not_ours_to_start_is_reported_with_the_command_to_start_it():
    port = unused_loopback_port()  # not the default port: never started, only reported
    env = {**os.environ, "DATABASE_URL": os.environ.get("DATABASE_URL", ""), "REDIS_URL": f"redis://127.0.0.1:{port}/0"}
    result = subprocess.run(
        [sys.executable, "scripts/check_services.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert f"Redis is not answering at redis://127.0.0.1:{port}/0" in result.stderr
    assert "start it with: mkdir -p /var/lib/redis /var/log/redis && redis-server --daemonize yes" in result.stderr
    assert "starting it" not in result.stdout
    assert "PostgreSQL is not answering" not in result.stderr


def test_services_that_answer_are_left_alone():
    result = subprocess.run(
        [sys.executable, "scripts/check_services.py"], cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "PostgreSQL and Redis are answering" in result.stdout
    assert "starting it" not in result.stdout


def test_a_missing_chromium_without_root_stops_with_one_line_saying_how(tmp_path):
    script = (ROOT / "scripts" / "ensure_chromium.sh").read_text()
    # As root (CI), drop to nobody: the script must not try apt-get for someone who cannot.
    as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
    result = subprocess.run(
        [*as_nobody, "bash", "-s"], input=script,  # from stdin: nobody may not read this checkout
        env={"PATH": os.environ["PATH"], "CHROMIUM": str(tmp_path / "no-chromium-here")},
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "sudo apt-get install -y chromium" in lines[0]
    assert result.stdout == ""


def test_a_present_chromium_is_left_alone():
    result = subprocess.run(
        [str(ROOT / "scripts" / "ensure_chromium.sh")], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0
    assert result.stdout == result.stderr == ""
