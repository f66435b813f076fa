"""Routing policies under the shipped worker: a 50/50 weighted split, and a rollout holding its
50 % step, each over ``messages`` messages to distinct contacts.

The messages are handed over through the intake service in batches (what the batch endpoint
calls); the shipped worker (``scripts/worker``) delivers them through two sandbox integrations
that record every send in Redis. Reported: the share each integration carried (from the rows)
against its weight, lost (not ``sent`` within the timeout), duplicated (sends recorded more than
once for one message), and messages per second. The target is every share within ±3 points of its
weight, 0 lost and 0 duplicated.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

from django.conf import settings

from integrations.benchmarking.processes import ManagedProcess
from integrations.benchmarking.scenarios import ACTOR, bench_organization
from integrations.benchmarking.stats import Measurement

SECTION = "6. routing policies"
TOLERANCE_POINTS = 3.0


def _run(*, label: str, messages: int, log_dir, setup, timeout: float, batch_size: int = 500) -> Measurement:
    import redis as redis_lib
    from django.utils import timezone

    from integrations.models import Message
    from integrations.services.delivery import intake
    from providers import sandbox

    recorder = redis_lib.Redis.from_url(settings.REDIS_URL)
    recorder.delete(sandbox.RECORD_KEY, sandbox.REFERENCE_KEY)
    env = {"CELERY_TASK_ALWAYS_EAGER": "false", "LOG_LEVEL": "WARNING", "HEALTH_CHECK_INTERVAL": "3600",
           "PYTHON": sys.executable}
    with bench_organization(integrations=2, config={"record_redis_url": settings.REDIS_URL}) as (organization, rows):
        weights = setup(organization, rows)
        worker = ManagedProcess(name=f"bench-policy-{label.replace('/', '-').replace(' ', '-').replace('%', '')}", command=[str(Path(settings.BASE_DIR) / "scripts" / "worker")],
                                log_dir=log_dir, ready_marker=b" ready.", env=env)
        try:
            worker.start()
            started = timezone.now()
            run = uuid.uuid4().hex[:8]
            for first in range(0, messages, batch_size):
                items = [{"to": f"+1415555{i:04d}", "body": f"m{i}", "idempotency_key": f"{run}-{i}"}
                         for i in range(first, min(first + batch_size, messages))]
                refused = [r.errors for r in intake.send_messages(organization=organization, items=items, actor=ACTOR)
                           if r.errors is not None]
                if refused:
                    raise RuntimeError(f"intake refused {len(refused)} benchmark messages: {refused[0]}")
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if not Message.objects.for_org(organization).exclude(status="sent").exists():
                    break
                time.sleep(0.2)
        finally:
            worker.stop()
        sent = list(Message.objects.for_org(organization).filter(status="sent").values_list("integration_id", "sent_at"))
        ids = [row.pk for row in rows]
    records = [json.loads(r) for r in recorder.lrange(sandbox.RECORD_KEY, 0, -1)]
    recorder.delete(sandbox.RECORD_KEY, sandbox.REFERENCE_KEY)
    recorder.close()
    per_message = Counter(r.get("client_reference") for r in records if r.get("label") in {"bench-0", "bench-1"})
    duplicated = sum(count - 1 for count in per_message.values() if count > 1)
    carried = Counter(integration_id for integration_id, _ in sent)
    shares = {f"bench-{i}": round(100 * carried[ids[i]] / max(len(sent), 1), 1) for i in range(2)}
    wanted = {f"bench-{i}": weights.get(ids[i], 0) for i in range(2)}
    worst = max(abs(shares[k] - wanted[k]) for k in shares)
    last = max((at for _, at in sent), default=started)
    row = Measurement(SECTION, f"{label}: {messages} messages to distinct contacts, shipped worker")
    row.extra.update(
        weights=wanted, measured_shares=shares, worst_deviation_points=round(worst, 1),
        lost=messages - len(sent), duplicated=duplicated,
        messages_per_second=round(len(sent) / max((last - started).total_seconds(), 1e-9), 1),
        target=f"every share within ±{TOLERANCE_POINTS:g} points; 0 lost, 0 duplicated",
        target_met=worst <= TOLERANCE_POINTS and len(sent) == messages and duplicated == 0,
    )
    return row


def policy_runs(*, messages: int, log_dir, timeout: float = 300.0) -> list[Measurement]:
    from integrations.services.policies.channel_policy import set_policy
    from integrations.services.policies.rollouts import start_rollout

    if settings.CELERY_TASK_ALWAYS_EAGER or not settings.REDIS_URL:
        return [Measurement(SECTION, "skipped: needs Redis and a real broker", [])]

    def split(organization, rows):
        set_policy(organization=organization, channel="whatsapp", mode="split", actor=ACTOR,
                   weights={str(rows[0].pk): 50, str(rows[1].pk): 50}, reason="benchmark")
        return {rows[0].pk: 50, rows[1].pk: 50}

    def rollout(organization, rows):
        # Held at its first step (50 %) for the whole run: the guard ticks only from beat.
        start_rollout(organization=organization, channel="whatsapp", integration_id=rows[1].pk, steps=[50, 100],
                      step_seconds=3600, max_failure_rate=0.05, actor=ACTOR, reason="benchmark")
        return {rows[0].pk: 50, rows[1].pk: 50}

    return [
        _run(label="split 50/50", messages=messages, log_dir=log_dir, setup=split, timeout=timeout),
        _run(label="rollout at its 50% step", messages=messages, log_dir=log_dir, setup=rollout, timeout=timeout),
    ]
