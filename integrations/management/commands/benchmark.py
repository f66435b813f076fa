import json
import os
import platform
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection

from integrations.benchmarking import api_e2e, api_load, policy_split, scenarios


class Command(BaseCommand):
    help = "Measure routing, switching and delivery against the configured PostgreSQL and Redis; print a table, write JSON."

    def add_arguments(self, parser):
        parser.add_argument("--quick", action="store_true", help="Fewer repetitions (CI): figures are printed, not judged.")
        parser.add_argument("--json", dest="json_path", default="benchmark.json", help="Where to write the JSON results.")
        parser.add_argument("--only", action="append", default=[], help="Run only sections whose name contains this.")
        parser.add_argument("--e2e-messages", type=int, default=None,
                            help="Messages per end-to-end run (default 500 with --quick, else 3000).")
        parser.add_argument("--e2e-runs", type=int, default=None,
                            help="End-to-end runs per latency, reported one by one and as their median (default 1 with --quick, else 3).")

    def handle(self, *args, quick, json_path, only, e2e_messages, e2e_runs, **options):
        reps = 300 if quick else 5000
        e2e = e2e_messages or (500 if quick else 3000)
        runs = e2e_runs or (1 if quick else 3)
        log_dir = Path(tempfile.mkdtemp(prefix="switchboard-bench-"))
        plan = [
            ("route", lambda: scenarios.route_resolution(repetitions=reps)),
            ("overhead", lambda: scenarios.abstraction_overhead(repetitions=200 if quick else 2000)),
            ("switch", lambda: scenarios.switch_latency(repetitions=50 if quick else 500)),
            ("storm", lambda: scenarios.switch_storm(threads=8 if quick else 32, switches_per_thread=10 if quick else 50)),
            # Through the HTTP API with the shipped worker, at zero and at real provider latency.
            ("e2e-0ms", lambda: api_e2e.repeated(runs, messages=e2e, latency_ms=0, log_dir=log_dir)),
            ("e2e-200ms", lambda: api_e2e.repeated(runs, messages=e2e, latency_ms=200, log_dir=log_dir)),
            ("api", lambda: api_load.api_load(seconds=3 if quick else 10, clients=16, log_dir=log_dir)),
            # Weighted split and a rollout in progress: measured shares, lost, duplicated.
            ("policy", lambda: policy_split.policy_runs(messages=500 if quick else 2000, log_dir=log_dir)),
        ]
        rows = []
        for name, run in plan:
            if only and not any(o in name for o in only):
                continue
            self.stderr.write(f"running {name} …")
            rows.extend(run())
        self.stdout.write(render_table(rows))
        document = {
            "generated_at": datetime.now(UTC).isoformat(),
            "quick": quick,
            "machine": {
                "platform": platform.platform(),
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "database": connection.vendor,
                "redis": bool(settings.REDIS_URL),
            },
            "results": [row.as_dict() for row in rows],
        }
        with open(json_path, "w") as handle:
            json.dump(document, handle, indent=2)
        self.stdout.write(f"JSON written to {json_path}; process logs in {log_dir}")


def render_table(rows) -> str:
    header = ("section", "measurement", "n", "p50 µs", "p99 µs", "notes")
    lines = [header]
    for row in rows:
        notes = ", ".join(f"{k}={v}" for k, v in row.extra.items() if k != "target")
        lines.append(
            (
                row.section,
                row.name,
                str(row.count),
                "" if row.median_us is None else f"{row.median_us:.1f}",
                "" if row.p99_us is None else f"{row.p99_us:.1f}",
                notes,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    out = []
    for line in lines:
        out.append("  ".join(cell.ljust(width) for cell, width in zip(line[:-1], widths, strict=True)) + "  " + line[-1])
    return "\n".join(out)
