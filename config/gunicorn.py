"""gunicorn settings: ``gunicorn -c config/gunicorn.py config.wsgi:application``.

Prepares the metrics directory before the workers fork and tells prometheus-client when one
exits (multiprocess mode, see ``config/metrics_dir.py``).
"""

import os

from config import metrics_dir

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
accesslog = "-"


def on_starting(server):
    metrics_dir.prepare()


def child_exit(server, worker):
    metrics_dir.process_exited(worker.pid)
