import os

from celery import Celery
from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    task_postrun,
    task_prerun,
    worker_init,
    worker_process_shutdown,
)

from audit import context
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


# One request context per task, so its log lines carry the task id as request id and the
# organization and integration it works on. A task run eagerly inside a request keeps that
# request's id. The tokens are keyed by task id: postrun undoes exactly its own prerun.
_task_contexts: dict[str, object] = {}


@task_prerun.connect
def _bind_task_context(task_id=None, **kwargs):
    outer = context.current()
    _task_contexts[task_id] = context.begin(request_id=outer.request_id or task_id, ip=outer.ip)


@task_postrun.connect
def _unbind_task_context(task_id=None, **kwargs):
    token = _task_contexts.pop(task_id, None)
    if token is not None:
        context.end(token)


@after_setup_logger.connect
@after_setup_task_logger.connect
def _json_worker_logs(logger=None, **kwargs):
    """Celery sets up its own handlers (honouring ``-l``); with LOG_FORMAT=json they write our JSON lines."""
    from django.conf import settings

    from config.logging import ContextFilter, json_formatter

    if settings.LOG_FORMAT != "json" or logger is None:
        return
    for handler in logger.handlers:
        handler.setFormatter(json_formatter())
        handler.addFilter(ContextFilter())
