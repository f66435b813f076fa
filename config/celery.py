import os

from celery import Celery
from celery.signals import worker_init, worker_process_shutdown

from config import metrics_dir

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("switchboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _prepare_metrics_directory(**kwargs):
    """Before the pool forks: the worker's metrics directory starts empty (config/metrics_dir.py)."""
    metrics_dir.prepare()


@worker_process_shutdown.connect
def _mark_metrics_process_dead(pid=None, **kwargs):
    metrics_dir.process_exited(pid or os.getpid())
