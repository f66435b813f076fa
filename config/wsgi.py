import os

from django.core.management import call_command
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# gunicorn does not run system checks; refuse to serve without an encryption key (integrations.E001).
call_command("check", "--tag", "security", "--fail-level", "ERROR", verbosity=0)
