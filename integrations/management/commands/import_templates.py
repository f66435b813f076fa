from django.core.management.base import BaseCommand, CommandError

from integrations.errors import ServiceError
from integrations.models import Channel
from integrations.selectors.integrations import integration_get
from integrations.selectors.organizations import organization_get
from integrations.services.templates import templates_import


class Command(BaseCommand):
    help = "Import a WhatsApp integration's templates (Meta, Twilio Content) with their approval status."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="Organization slug.")
        parser.add_argument("--integration", required=True, help="Integration id or display name.")
        parser.add_argument("--max-pages", type=int, default=10, help="Pages to read at most (capped at 50).")
        parser.add_argument("--actor", default="system:cli", help="Actor recorded in the audit trail.")

    def handle(self, *args, org, integration, max_pages, actor, **options):
        try:
            organization = organization_get(slug=org)
            target = integration_get(organization=organization, ref=integration, channel=Channel.WHATSAPP)
            result = templates_import(integration=target, actor=actor, max_pages=max_pages)
        except ServiceError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(self.style.SUCCESS(
            f"{target.display_name}: {result.read} read, {result.created_templates} new templates, "
            f"{result.mappings} mappings ({result.approved} approved)."
        ))
