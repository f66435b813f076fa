import math

from django.core.management.base import BaseCommand, CommandError

from integrations.errors import ServiceError
from integrations.selectors.organizations import organization_get
from integrations.selectors.readiness import celery_broker_state
from integrations.services.health import run_health_checks


class Command(BaseCommand):
    help = (
        "Run the health checks now (test_connection for every active integration), apply "
        "automatic failover where enabled, and print a table."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", help="Organization slug (default: every organization).")

    def handle(self, *args, org=None, **options):
        organization = None
        if org:
            try:
                organization = organization_get(slug=org)
            except ServiceError as exc:
                raise CommandError(exc.message) from None
        # Run by hand: check everything, however long it takes (the periodic run keeps a budget).
        rows = run_health_checks(organization=organization, actor="system:check_providers", budget_seconds=math.inf)
        if not rows:
            self.stdout.write("No active integrations to check.")
            return
        header = ("ORG", "CHANNEL", "PRIMARY", "NAME", "PROVIDER", "HEALTH", "LATENCY", "DOWN", "BREAKER", "ACTION", "DETAIL")
        table = [header] + [
            (
                r.organization, r.channel, "*" if r.is_primary else "", r.integration, r.provider_name, r.health,
                "" if r.latency_ms is None else f"{r.latency_ms} ms", str(r.down_streak), r.breaker, r.action, r.detail,
            )
            for r in rows
        ]
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        for row in table:
            self.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        down = sum(1 for r in rows if r.health == "down")
        if down:
            self.stderr.write(f"{down} integration(s) down.")
        self._report_broker()

    def _report_broker(self) -> None:
        """Delivery needs the Celery broker: say plainly when it cannot be reached."""
        state = celery_broker_state()
        if state == "eager":
            self.stdout.write("Celery: eager mode (no broker; tasks run in-process).")
        elif state == "reachable":
            self.stdout.write("Celery broker: reachable.")
        else:
            self.stderr.write(
                f"Celery broker UNREACHABLE ({state.removeprefix('unreachable ').strip('()')}): messages stay "
                "queued and no health check or retry runs until it is back."
            )
