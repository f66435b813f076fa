import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from integrations.demo import demo_seed


class Command(BaseCommand):
    help = "Create (or refresh) the demo organization, its sandbox integrations and an admin login."

    def add_arguments(self, parser):
        parser.add_argument("--username", default=os.environ.get("DEMO_ADMIN_USERNAME", "admin"))
        parser.add_argument("--password", default=os.environ.get("DEMO_ADMIN_PASSWORD", "switchboard-demo"))
        parser.add_argument("--force", action="store_true", help="Allow with DEBUG off.")

    def handle(self, *args, username, password, force, **options):
        if not settings.DEBUG and not force:
            raise CommandError("seed_demo creates a known admin password; run it with DEBUG=true or --force.")
        organization, history = demo_seed(username=username, password=password)
        self.stdout.write(self.style.SUCCESS(f"Demo organization ready: {organization.name} (slug: {organization.slug})"))
        if history:
            self.stdout.write(history)
        self.stdout.write(f"Admin:    {settings.PUBLIC_BASE_URL.rstrip('/')}/admin/")
        self.stdout.write(f"Login:    {username} / {password}")
