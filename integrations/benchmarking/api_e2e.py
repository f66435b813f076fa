"""End to end through the HTTP API: a client posts batches to gunicorn, the shipped worker
(``scripts/worker``, what ``make worker`` and docker-compose run) delivers them through sandbox
providers answering after ``latency_ms``, while the primary switches every second.

Reported: messages per second (first intake to last ``sent``), intake→sent p50/p99, lost,
duplicated (sends counted in Redis by the sandbox), misrouted (sent through a primary other than
the one committed when the delivery resolved its route), CPU seconds per message of the worker
process tree and of gunicorn, and their peak RSS.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import connections

from integrations.benchmarking.processes import ManagedProcess, children_of, free_port
from integrations.benchmarking.scenarios import ACTOR, bench_organization
from integrations.benchmarking.stats import Measurement, percentile

SECTION = "4. end to end through the API"
MAX_THROTTLED_WAIT = 30.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its descendants still alive, in seconds."""
    import os

    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for each in (pid, *_descendants(pid)):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def _descendants(pid: int) -> list[int]:
    found, stack = [], [pid]
    while stack:
        for child in children_of(stack.pop()):
            found.append(child)
            stack.append(child)
    return found


def _peak_rss_mib(process: ManagedProcess) -> float:
    from integrations.benchmarking.processes import peak_rss_kib

    if process.process is None:
        return 0.0
    pids = [process.process.pid, *_descendants(process.process.pid)]
    return round(max((peak_rss_kib(p) or 0) for p in pids) / 1024, 1)


class _Client:
    """One keep-alive connection posting batches; waits out 429 as the API asks."""

    def __init__(self, port: int, headers: dict[str, str]):
        self.port, self.headers = port, {**headers, "Content-Type": "application/json"}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.throttled = 0

    def post_batch(self, items: list[dict]) -> dict:
        body = json.dumps({"messages": items})
        waited = 0.0
        while True:
            try:
                self.conn.request("POST", "/api/v1/messages/batch/", body=body, headers=self.headers)
                response = self.conn.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                raise
            if response.status == 429 and waited < MAX_THROTTLED_WAIT:
                self.throttled += 1
                pause = min(float(response.getheader("Retry-After") or 1), 5.0)
                time.sleep(pause)
                waited += pause
                continue
            if response.status not in (200, 202):
                raise RuntimeError(f"batch answered {response.status}: {payload[:200]!r}")
            return json.loads(payload)

    def close(self):
        self.conn.close()


def end_to_end_api(*, messages: int, latency_ms: int, log_dir, batch_size: int = 500, switch_every: float = 1.0,
                   timeout: float = 300.0) -> list[Measurement]:
    import redis as redis_lib
    from django.contrib.auth import get_user_model
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from integrations.models import Membership, Message
    from integrations.services.switching import switch_primary
    from providers import sandbox

    name = f"{messages} messages via POST /messages/batch/, sandbox {latency_ms} ms, switch every {switch_every:g}s"
    if settings.CELERY_TASK_ALWAYS_EAGER or not settings.REDIS_URL:
        return [Measurement(SECTION, f"skipped ({name}): needs Redis and a real broker", [])]
    recorder = redis_lib.Redis.from_url(settings.REDIS_URL)
    recorder.delete(sandbox.RECORD_KEY, sandbox.REFERENCE_KEY)
    config = {"record_redis_url": settings.REDIS_URL, "latency_ms": latency_ms}
    port = free_port()
    env = {"CELERY_TASK_ALWAYS_EAGER": "false", "LOG_LEVEL": "WARNING", "HEALTH_CHECK_INTERVAL": "3600",
           "ALLOWED_HOSTS": "127.0.0.1", "PYTHON": sys.executable}
    with bench_organization(integrations=2, config=config) as (organization, rows):
        user = get_user_model().objects.create_user(username=f"bench-{uuid.uuid4().hex[:8]}")
        Membership.objects.create(user=user, organization=organization, role=Membership.Role.ADMIN)
        token = Token.objects.create(user=user).key
        server = ManagedProcess(
            name=f"bench-e2e-gunicorn-{latency_ms}ms",
            command=[sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py", "config.wsgi:application",
                     "--bind", f"127.0.0.1:{port}", "--workers", "2", "--worker-class", "gthread", "--threads", "4",
                     "--access-logfile", "/dev/null"],
            log_dir=log_dir, ready_marker=b"Booting worker", env=env,
        )
        worker = ManagedProcess(name=f"bench-e2e-worker-{latency_ms}ms", command=[str(Path(settings.BASE_DIR) / "scripts" / "worker")],
                                log_dir=log_dir, ready_marker=b" ready.", env=env)
        switches: list[tuple[datetime, datetime, object]] = []
        stop = threading.Event()
        client = None
        try:
            server.start()
            worker.start()
            time.sleep(1.0)  # both gunicorn workers and every pool process booted
            cpu_before = {"worker": cpu_seconds(worker.process.pid), "web": cpu_seconds(server.process.pid)}

            def switcher():
                position = 1
                try:
                    while not stop.wait(switch_every):
                        target = rows[position % 2]
                        before = timezone.now()
                        switch_primary(organization=organization, channel="whatsapp", target=target.pk, actor=ACTOR)
                        switches.append((before, timezone.now(), target.pk))
                        position += 1
                finally:
                    connections.close_all()

            thread = threading.Thread(target=switcher)
            client = _Client(port, {"Authorization": f"Token {token}", "X-Org-Id": str(organization.pk)})
            started = timezone.now()
            thread.start()
            run = uuid.uuid4().hex[:8]
            for start in range(0, messages, batch_size):
                client.post_batch([{"to": "+14155550100", "body": f"m{i}", "idempotency_key": f"{run}-{i}"}
                                   for i in range(start, min(start + batch_size, messages))])
            intake_done = timezone.now()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if not Message.objects.for_org(organization).exclude(status="sent").exists():
                    break
                time.sleep(0.2)
            stop.set()
            thread.join()
            cpu = {"worker": cpu_seconds(worker.process.pid) - cpu_before["worker"],
                   "web": cpu_seconds(server.process.pid) - cpu_before["web"]}
            rss = {"worker": _peak_rss_mib(worker), "web": _peak_rss_mib(server)}
        finally:
            stop.set()
            if client is not None:
                client.close()
            worker.stop()
            server.stop()
            Token.objects.filter(user=user).delete()

        sent_rows = list(Message.objects.for_org(organization).filter(status="sent")
                         .values("id", "created_at", "sent_at", "integration_id", "attempts"))
        stored = Message.objects.for_org(organization).count()
        user.delete()
    records = [json.loads(r) for r in recorder.lrange(sandbox.RECORD_KEY, 0, -1)]
    recorder.delete(sandbox.RECORD_KEY, sandbox.REFERENCE_KEY)
    recorder.close()
    labels = {f"bench-{i}" for i in range(2)}
    per_message = Counter(r.get("client_reference") for r in records if r.get("label") in labels)
    duplicated = sum(count - 1 for count in per_message.values() if count > 1)
    misrouted = count_misrouted(sent_rows, switches, initial_primary=rows[0].pk)
    latencies_us = [(r["sent_at"] - r["created_at"]).total_seconds() * 1e6 for r in sent_rows]
    last_sent = max((r["sent_at"] for r in sent_rows), default=started)
    elapsed = (last_sent - started).total_seconds() or 1e-9
    rate = len(sent_rows) / elapsed
    sent = max(len(sent_rows), 1)
    target = 300 if latency_ms >= 100 else 500
    row = Measurement(SECTION, name, latencies_us)
    row.extra.update(
        messages_per_second=round(rate, 1),
        intake_messages_per_second=round(stored / max((intake_done - started).total_seconds(), 1e-9), 1),
        p50_intake_to_sent_ms=round(percentile(latencies_us, 50) / 1000, 1) if latencies_us else None,
        p99_intake_to_sent_ms=round(percentile(latencies_us, 99) / 1000, 1) if latencies_us else None,
        switches=len(switches),
        lost=messages - len(sent_rows),
        duplicated=duplicated,
        misrouted_after_switch=misrouted,
        throttled_answers=client.throttled if client else 0,
        worker_cpu_ms_per_message=round(cpu["worker"] * 1000 / sent, 2),
        web_cpu_ms_per_message=round(cpu["web"] * 1000 / sent, 2),
        worker_peak_rss_mib=rss["worker"],
        web_peak_rss_mib=rss["web"],
        target=f">= {target} msg/s; worker CPU <= 1 ms/message; 0 lost, 0 duplicated, 0 misrouted",
        target_met=(rate >= target and cpu["worker"] * 1000 / sent <= 1.0
                    and len(sent_rows) == messages and duplicated == 0 and misrouted == 0),
    )
    return [row]


def repeated(runs: int, **kwargs) -> list[Measurement]:
    """``end_to_end_api`` ``runs`` times in a row, then a row of the runs' medians."""
    rows = [row for _ in range(max(runs, 1)) for row in end_to_end_api(**kwargs)]
    measured = [row for row in rows if "messages_per_second" in row.extra]
    if len(measured) < 2:
        return rows
    import statistics

    median = Measurement(SECTION, f"median of {len(measured)} runs: " + measured[0].name, [])
    for key, value in measured[0].extra.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            median.extra[key] = round(statistics.median(row.extra[key] for row in measured), 2)
    median.extra["lost"] = sum(row.extra["lost"] for row in measured)
    median.extra["duplicated"] = sum(row.extra["duplicated"] for row in measured)
    median.extra["misrouted_after_switch"] = sum(row.extra["misrouted_after_switch"] for row in measured)
    median.extra["target"] = measured[0].extra.get("target")
    median.extra["target_met"] = all(row.extra.get("target_met") for row in measured)
    return [*rows, median]


def count_misrouted(sent_rows, switches, *, initial_primary) -> int:
    """Sends through an integration that was not the committed primary at any moment while the
    delivery resolved its route (``routed_at`` … ``routed_until``; a switch in flight allows
    either side)."""

    def primaries_during(start: datetime, end: datetime) -> set:
        primary, allowed = initial_primary, set()
        for before, after, target in switches:
            if after <= start:
                primary = target
            elif before <= end:  # committed (or committing) while the route was being resolved
                allowed.update({primary, target})
                primary = target
        return allowed or {primary}

    misrouted = 0
    for row in sent_rows:
        final = [a for a in row["attempts"] if a.get("outcome") == "sent"]
        if not final or not final[-1].get("routed_at"):
            continue
        start = datetime.fromisoformat(final[-1]["routed_at"])
        end = datetime.fromisoformat(final[-1].get("routed_until") or final[-1]["routed_at"])
        if row["integration_id"] not in primaries_during(start, end):
            misrouted += 1
    return misrouted
