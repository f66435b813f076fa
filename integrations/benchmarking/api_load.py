"""Section 5: ``GET /api/v1/channels/whatsapp/`` from concurrent keep-alive clients against gunicorn."""

from __future__ import annotations

import sys
import threading
import time
import uuid

from integrations.benchmarking.scenarios import bench_organization
from integrations.benchmarking.stats import Measurement

WARM_UP_REQUESTS = 5


def api_load(*, seconds: float, clients: int, log_dir) -> list[Measurement]:
    """``GET /api/v1/channels/whatsapp/`` from concurrent keep-alive clients against gunicorn."""
    import http.client

    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from integrations.benchmarking.processes import ManagedProcess, free_port
    from integrations.models import Membership

    section = "5. API under load"
    port = free_port()
    with bench_organization(integrations=3) as (organization, _):
        user = get_user_model().objects.create_user(username=f"bench-{uuid.uuid4().hex[:8]}")
        Membership.objects.create(user=user, organization=organization, role=Membership.Role.VIEWER)
        token = Token.objects.create(user=user).key
        server = ManagedProcess(
            name="bench-gunicorn",
            command=[sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
                     "--workers", "2", "--worker-class", "gthread", "--threads", "8"],
            log_dir=log_dir, ready_marker=b"Booting worker",
            env={"ALLOWED_HOSTS": "127.0.0.1", "LOG_LEVEL": "WARNING"},
        )
        latencies: list[float] = []
        failures = 0
        lock = threading.Lock()
        try:
            server.start()
            time.sleep(1.0)  # let both workers finish booting
            headers = {"Authorization": f"Token {token}", "X-Org-Id": str(organization.pk)}
            # Each gunicorn worker pays for its first requests (URLconf, DRF and schema imports,
            # the first database connection of each thread): a few unmeasured requests per
            # client first, so the run measures the service, not its start-up.
            clock = {}

            def start_clock():
                clock["started"] = time.monotonic()
                clock["deadline"] = clock["started"] + seconds

            warmed = threading.Barrier(clients + 1, action=start_clock)

            def get(conn) -> bool:
                conn.request("GET", "/api/v1/channels/whatsapp/", headers=headers)
                response = conn.getresponse()
                response.read()
                return response.status == 200

            def client():
                nonlocal failures
                mine, bad = [], 0
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                for _ in range(WARM_UP_REQUESTS):
                    try:
                        get(conn)
                    except (OSError, http.client.HTTPException):
                        conn.close()
                        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                warmed.wait(timeout=60)
                while time.monotonic() < clock["deadline"]:
                    started = time.perf_counter_ns()
                    try:
                        if not get(conn):
                            bad += 1
                    except (OSError, http.client.HTTPException):
                        bad += 1
                        conn.close()
                        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                    mine.append((time.perf_counter_ns() - started) / 1000)
                conn.close()
                with lock:
                    latencies.extend(mine)
                    failures += bad

            pool = [threading.Thread(target=client) for _ in range(clients)]
            for thread in pool:
                thread.start()
            warmed.wait(timeout=60)
            for thread in pool:
                thread.join()
            elapsed = time.monotonic() - clock["started"]
            web_rss = server.peak_rss_kib() or 0
        finally:
            server.stop()
            Token.objects.filter(user=user).delete()
            user.delete()
    row = Measurement(section, f"GET /api/v1/channels/whatsapp/, {clients} clients, {seconds:g}s", latencies)
    row.extra.update(
        requests_per_second=round(len(latencies) / elapsed, 1),
        failed=failures,
        web_peak_rss_mib=round(web_rss / 1024, 1),
        target="p99 < 50 ms",
        target_met=failures == 0 and bool(latencies) and row.p99_us < 50_000,
    )
    return [row]
