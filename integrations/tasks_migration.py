"""The Celery task that executes a provider migration (step 4 of the wizard).

Imported by ``integrations.tasks`` so the worker's autodiscovery registers it.
"""

from celery import shared_task

from integrations.services.migration import migration_execute


@shared_task(name="integrations.execute_provider_migration", acks_late=True)
def execute_provider_migration(migration_id: str) -> str:
    """Thin: the service runs the steps, records progress and rolls back a half-done switch."""
    return migration_execute(migration_id=migration_id).state
