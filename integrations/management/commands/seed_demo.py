import os

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from integrations.models import Membership, Organization, OrganizationIntegration
from integrations.services.integrations import integration_create

DEMO_INTEGRATIONS = (
    # (provider, display name, config)
    ("sandbox_whatsapp", "Sandbox WhatsApp (primary)", {"sender": "+14155550100", "label": "wa-primary"}),
    ("sandbox_whatsapp", "Sandbox WhatsApp (backup)", {"sender": "+14155550101", "label": "wa-backup"}),
    ("sandbox_voip", "Sandbox VoIP (primary)", {"sender": "+14155550102", "label": "voip-primary"}),
    ("sandbox_voip", "Sandbox VoIP (backup)", {"sender": "+14155550103", "label": "voip-backup"}),
)


class Command(BaseCommand):
    help = "Create (or refresh) the demo organization, its sandbox integrations and an admin login."

    def add_arguments(self, parser):
        parser.add_argument("--username", default=os.environ.get("DEMO_ADMIN_USERNAME", "admin"))
        parser.add_argument("--password", default=os.environ.get("DEMO_ADMIN_PASSWORD", "switchboard-demo"))
        parser.add_argument("--force", action="store_true", help="Allow with DEBUG off.")

    def handle(self, *args, username, password, force, **options):
        if not settings.DEBUG and not force:
            raise CommandError("seed_demo creates a known admin password; run it with DEBUG=true or --force.")
        with transaction.atomic():
            organization, _ = Organization.objects.get_or_create(
                slug="demo", defaults={"name": "Demo Organization", "auto_failover": True}
            )
            user, created = get_user_model().objects.get_or_create(
                username=username, defaults={"email": f"{username}@example.com"}
            )
            user.is_staff = user.is_superuser = True
            user.set_password(password)
            user.save()
            Membership.objects.get_or_create(
                user=user, organization=organization, defaults={"role": Membership.Role.OWNER}
            )
            existing = set(organization.integrations.values_list("display_name", flat=True))
            for index, (provider_name, display_name, config) in enumerate(DEMO_INTEGRATIONS):
                if display_name in existing:
                    continue
                integration_create(
                    organization=organization,
                    provider_name=provider_name,
                    display_name=display_name,
                    config=config,
                    credentials={"api_key": f"demo-key-{index}-{organization.pk.hex[:12]}"},
                    status=OrganizationIntegration.Status.ACTIVE,
                    actor="system:seed_demo",
                )
        history = self._seed_history(organization)
        self.stdout.write(self.style.SUCCESS("Demo organization ready: Demo Organization (slug: demo)"))
        if history:
            self.stdout.write(history)
        self.stdout.write(f"Admin:    {settings.PUBLIC_BASE_URL.rstrip('/')}/admin/")
        self.stdout.write(f"Login:    {username} / {password}")

    def _seed_history(self, organization) -> str:
        try:
            from integrations.services.demo_history import seed_demo_history
        except ImportError:
            return ""
        return seed_demo_history(organization=organization) or ""
