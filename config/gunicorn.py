"""gunicorn settings: ``gunicorn -c config/gunicorn.py config.wsgi:application``.

Prepares the metrics directory before the workers fork and tells prometheus-client when one
exits (multiprocess mode, see ``config/metrics_dir.py``); gunicorn's own error and access logs
take our shape (JSON lines with ``LOG_FORMAT=json``), secret query values redacted.
"""

import os

from config import metrics_dir
from config.logging import gunicorn_logconfig

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
accesslog = "-"
# Always our config: it redacts secret query values (a bridge's legacy ?token=) from the access log.
logconfig_dict = gunicorn_logconfig(log_format=os.environ.get("LOG_FORMAT", "plain"))


def on_starting(server):
    metrics_dir.prepare()


def child_exit(server, worker):
    metrics_dir.process_exited(worker.pid)
