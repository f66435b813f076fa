from django.core.management.base import BaseCommand, CommandError

from integrations.errors import ServiceError
from integrations.models import Channel
from integrations.selectors.integrations import integration_get, primary_integration
from integrations.selectors.organizations import organization_get
from integrations.services.switching import refusal_reason, switch_primary


class Command(BaseCommand):
    help = "Switch the primary integration of an organization's channel."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="Organization slug.")
        parser.add_argument("--channel", required=True, choices=Channel.values)
        parser.add_argument("--to", required=True, help="Target integration id or display name.")
        parser.add_argument("--reason", default="", help="Why; kept in the audit trail.")
        parser.add_argument("--dry-run", action="store_true", help="Check and print; change nothing.")
        parser.add_argument("--actor", default="system:cli", help="Actor recorded in the audit trail.")

    def handle(self, *args, org, channel, to, reason, dry_run, actor, **options):
        try:
            organization = organization_get(slug=org)
            target = integration_get(organization=organization, ref=to, channel=channel)
        except ServiceError as exc:
            raise CommandError(exc.message) from None
        current = primary_integration(organization=organization, channel=channel)
        current_label = f"{current.display_name} ({current.pk})" if current else "none"
        target_label = f"{target.display_name} ({target.pk})"

        if dry_run:
            problem = refusal_reason(target)
            if current is not None and current.pk == target.pk:
                self.stdout.write(f"[dry run] {target_label} is already primary; nothing would change.")
            elif problem:
                raise CommandError(f"[dry run] would be refused: {problem}")
            else:
                self.stdout.write(f"[dry run] would switch {organization.slug}/{channel}: {current_label} → {target_label}")
            return

        try:
            result = switch_primary(
                organization=organization, channel=channel, target=target, actor=actor, reason=reason
            )
        except ServiceError as exc:
            raise CommandError(exc.message) from None
        if result.switched:
            self.stdout.write(self.style.SUCCESS(f"Switched {organization.slug}/{channel}: {current_label} → {target_label}"))
        else:
            self.stdout.write(f"{target_label} is already primary; nothing changed.")
