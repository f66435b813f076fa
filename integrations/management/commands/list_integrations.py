import json

from django.core.management.base import BaseCommand, CommandError

from integrations.errors import ServiceError
from integrations.models import Channel
from integrations.selectors.integrations import integration_list, masked_credentials
from integrations.selectors.organizations import organization_get


class Command(BaseCommand):
    help = "List an organization's integrations in route order (credentials masked)."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="Organization slug.")
        parser.add_argument("--channel", choices=Channel.values)
        parser.add_argument("--json", action="store_true", help="Machine-readable output.")

    def handle(self, *args, org, channel, json: bool, **options):
        try:
            organization = organization_get(slug=org)
        except ServiceError as exc:
            raise CommandError(exc.message) from None
        rows = [
            {
                "id": str(i.pk),
                "channel": i.channel,
                "provider": i.provider_name,
                "name": i.display_name,
                "primary": i.is_primary,
                "status": i.status,
                "priority": i.priority,
                "health": i.health_status,
                "credentials": masked_credentials(i),
            }
            for i in integration_list(organization=organization, channel=channel)
        ]
        if json:
            self.stdout.write(_dumps(rows))
            return
        if not rows:
            self.stdout.write(f"{organization.slug} has no integrations.")
            return
        header = ("CHANNEL", "PRIMARY", "NAME", "PROVIDER", "STATUS", "HEALTH", "PRIORITY", "ID")
        table = [header] + [
            (r["channel"], "*" if r["primary"] else "", r["name"], r["provider"], r["status"], r["health"], str(r["priority"]), r["id"])
            for r in rows
        ]
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        for row in table:
            self.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _dumps(rows) -> str:
    return json.dumps(rows, indent=2, ensure_ascii=False)
