"""gunicorn settings: ``gunicorn -c config/gunicorn.py config.wsgi:application``.

Prepares the metrics directory before the workers fork and tells prometheus-client when one
exits (multiprocess mode, see ``config/metrics_dir.py``); with ``LOG_FORMAT=json`` gunicorn's
own error and access logs are JSON lines too.
"""

import os

from config import metrics_dir
from config.logging import gunicorn_logconfig

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
accesslog = "-"
_json_logs = gunicorn_logconfig(log_format=os.environ.get("LOG_FORMAT", "plain"))
if _json_logs:
    logconfig_dict = _json_logs


def on_starting(server):
    metrics_dir.prepare()


def child_exit(server, worker):
    metrics_dir.process_exited(worker.pid)
