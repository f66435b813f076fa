import json

from django.core.management.base import BaseCommand, CommandError

from integrations.errors import ServiceError
from integrations.selectors.organizations import organization_get
from integrations.selectors.policies import carried_shares, policy_list


class Command(BaseCommand):
    help = "List routing policies (every organization's, or one's) with the last hour's carried shares."

    def add_arguments(self, parser):
        parser.add_argument("--org", help="Organization slug (default: every organization).")
        parser.add_argument("--json", action="store_true", help="Machine-readable output.")

    def handle(self, *args, org, json: bool, **options):
        try:
            organization = organization_get(slug=org) if org else None
        except ServiceError as exc:
            raise CommandError(exc.message) from None
        rows = []
        for policy in policy_list(organization=organization):
            carried = carried_shares(organization=policy.organization, channel=policy.channel, policy=policy)
            rows.append({
                "organization": policy.organization.slug, "channel": policy.channel, "mode": policy.mode,
                "version": policy.version, "rules": policy.rules,
                "integrations": [
                    {"id": c.integration_id, "name": c.display_name, "weight": c.weight, "sent_last_hour": c.sent,
                     "share_last_hour": c.share}
                    for c in carried.integrations
                ],
            })
        if json:
            self.stdout.write(_dumps(rows))
            return
        if not rows:
            self.stdout.write("No routing policies; every channel routes primary first.")
            return
        for row in rows:
            self.stdout.write(f"{row['organization']}/{row['channel']}: {row['mode']} (version {row['version']})")
            for item in row["integrations"]:
                weight = "-" if item["weight"] is None else f"{item['weight']}%"
                self.stdout.write(f"  {item['name']}: weight {weight}, carried {item['share_last_hour']}% "
                                  f"({item['sent_last_hour']} in the last hour)  {item['id']}")
            for rule in row["rules"]:
                self.stdout.write(f"  rule: tag {rule['tag']} → {rule['integration_id']}")


def _dumps(rows) -> str:
    return json.dumps(rows, indent=2, ensure_ascii=False)
