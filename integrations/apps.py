from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = _("Integrations")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Register the Celery tasks in every process, not only in workers: web processes queue
        # them by name, and eager mode (the embedded default) runs them in-process.
        from integrations import checks, tasks  # noqa: F401  (registers the system checks and the tasks)
