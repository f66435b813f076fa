import json

from django.core.management.base import BaseCommand, CommandError

from integrations.errors import ServiceError
from integrations.selectors.organizations import organization_get
from integrations.selectors.policies import carried_shares, open_policy_jobs, policy_list


class Command(BaseCommand):
    help = ("List routing policies (every organization's, or one's) with the last hour's carried shares, "
            "pending scheduled switches, running rollouts and spend caps.")

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
        jobs = open_policy_jobs(organization=organization)
        extra = {
            "scheduled_switches": [{"organization": r.organization.slug, "channel": r.channel, "at": r.at.isoformat(),
                                    "target": r.target_name, "reason": r.reason, "id": str(r.pk)} for r in jobs["scheduled_switches"]],
            "rollouts": [{"organization": r.organization.slug, "channel": r.channel, "target": r.target_name,
                          "steps": r.steps, "share": r.share, "id": str(r.pk)} for r in jobs["rollouts"]],
            "spend_caps": [{"organization": c.organization.slug, "integration": c.integration.display_name,
                            "monthly_budget": str(c.monthly_budget), "currency": c.currency, "spent": str(c.spent),
                            "reached": c.reached} for c in jobs["spend_caps"]],
        }
        if json:
            self.stdout.write(_dumps({"policies": rows, **extra}))
            return
        if not rows:
            self.stdout.write("No routing policies; every channel routes primary first.")
        for item in extra["scheduled_switches"]:
            self.stdout.write(f"{item['organization']}/{item['channel']}: switch to {item['target']} at {item['at']}  {item['id']}")
        for item in extra["rollouts"]:
            self.stdout.write(f"{item['organization']}/{item['channel']}: rollout to {item['target']} at {item['share']}% "
                              f"of {item['steps']}  {item['id']}")
        for item in extra["spend_caps"]:
            state = "reached, not routed" if item["reached"] else "under"
            self.stdout.write(f"{item['organization']}: {item['integration']} spent {item['spent']} of "
                              f"{item['monthly_budget']} {item['currency']} this month ({state})")
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
