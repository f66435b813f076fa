"""Logging: plain text, or with ``LOG_FORMAT=json`` one JSON object per line.

Each JSON line carries the time, level, logger and message, the request id and, where known,
the organization and integration ids (``audit.context``), plus the exception's traceback. The
message is what the code logged: the codebase never logs a credential or a message body (those
stay in the database and the redacted audit trail), and nothing else is added from the request.
"""

from __future__ import annotations

import logging
import re

from pythonjsonlogger.json import JsonFormatter

from audit import context

JSON_FORMAT = "%(levelname)s %(name)s %(message)s %(request_id)s %(organization_id)s %(integration_id)s"
RENAMED = {"levelname": "level", "name": "logger"}
FIELDS = {"time", "level", "logger", "message", "request_id", "organization_id", "integration_id", "exc_info", "stack_info"}


class ContextJsonFormatter(JsonFormatter):
    """python-json-logger's formatter, keeping only our fields: whatever a library attaches to a
    record as ``extra`` (Django's request object, a task's arguments) stays out of the line."""

    def process_log_record(self, log_data):
        return {key: value for key, value in log_data.items() if key in FIELDS}


# Secrets some senders can only put in a URL: the token of a bridge webhook set up before the
# header existed (Evolution), Meta's verify token in its handshake. Access logs write URLs.
SECRET_IN_QUERY = re.compile(r"((?:^|[?&\s])(?:token|hub\.verify_token|apikey|api_key|access_token)=)[^&\s\"']*",
                             re.IGNORECASE)


def redact_query_secrets(text: str) -> str:
    return SECRET_IN_QUERY.sub(r"\1••••", text)


class RedactQuerySecrets(logging.Filter):
    """Removes secret query values from a record's message and arguments, whoever logged it:
    gunicorn's access log (its arguments are a dict of atoms: the request line, the query),
    Django's development server, or our own lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_query_secrets(record.msg)
        if isinstance(record.args, dict):
            for key, value in list(record.args.items()):  # in place: gunicorn's atoms are a dict subclass
                if isinstance(value, str):
                    record.args[key] = redact_query_secrets(value)
        elif isinstance(record.args, tuple):
            record.args = tuple(redact_query_secrets(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True


class ContextFilter(logging.Filter):
    """Adds the request context to every record (empty values when there is none)."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = context.current()
        record.request_id = ctx.request_id or None
        record.organization_id = ctx.organization_id
        record.integration_id = ctx.integration_id
        return True


FILTERS = {"context": {"()": "config.logging.ContextFilter"}, "redact": {"()": "config.logging.RedactQuerySecrets"}}


def json_formatter() -> ContextJsonFormatter:
    return ContextJsonFormatter(JSON_FORMAT, rename_fields=RENAMED, timestamp="time")


def _formatters() -> dict:
    return {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        # "time": the record's creation in ISO 8601, UTC.
        "json": {"()": "config.logging.ContextJsonFormatter", "fmt": JSON_FORMAT, "rename_fields": RENAMED,
                 "timestamp": "time"},
    }


def logging_config(*, log_format: str, level: str) -> dict:
    """Django's LOGGING for ``log_format`` "plain" or "json"."""
    if log_format not in ("plain", "json"):
        raise ValueError(f"LOG_FORMAT must be 'plain' or 'json', not {log_format!r}")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": FILTERS,
        "formatters": _formatters(),
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": log_format, "filters": ["context", "redact"]}},
        # runserver's request lines hold URLs: through our handler, so they are redacted too.
        "loggers": {"django.server": {"handlers": ["console"], "level": "INFO", "propagate": False}},
        "root": {"handlers": ["console"], "level": level},
    }


def gunicorn_logconfig(*, log_format: str) -> dict:
    """gunicorn's own error and access logs in the same shape as ours, secret query values
    redacted (``RedactQuerySecrets``)."""
    if log_format not in ("plain", "json"):
        raise ValueError(f"LOG_FORMAT must be 'plain' or 'json', not {log_format!r}")
    handler = {"class": "logging.StreamHandler", "formatter": log_format, "filters": ["context", "redact"],
               "stream": "ext://sys.stdout"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": FILTERS,
        "formatters": _formatters(),
        "handlers": {"console": handler},
        "loggers": {
            "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
        },
        "root": {"handlers": ["console"], "level": "INFO"},
    }
