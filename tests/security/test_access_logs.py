"""Finding 12: the Evolution webhook token travelled in the URL query and landed in access logs.

``setup`` now gives the bridge a header (``X-Webhook-Token``, Evolution's ``webhook.headers``),
checked in tests/integrations/test_webhooks.py. Instances set up before still call with
``?token=``; the log filter removes it (and Meta's ``hub.verify_token``) from every line,
gunicorn's access log included.
"""

from __future__ import annotations

import io
import logging
import logging.config

from gunicorn.glogging import SafeAtoms

from config.logging import gunicorn_logconfig, logging_config

TOKEN = "whsec-evolution-0123456789"
REQUEST_LINE = f"POST /webhooks/5f0c/?token={TOKEN}&x=1 HTTP/1.1"


def _configured(config: dict, logger_name: str) -> tuple[logging.Logger, io.StringIO]:
    logging.config.dictConfig(config)
    stream = io.StringIO()
    logger = logging.getLogger(logger_name)
    handlers = logger.handlers or logging.getLogger().handlers
    for handler in handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(stream)
    return logger, stream


def test_gunicorn_access_lines_never_carry_the_token():
    for log_format in ("plain", "json"):
        logger, stream = _configured(gunicorn_logconfig(log_format=log_format), "gunicorn.access")
        atoms = SafeAtoms({"h": "10.0.0.1", "r": REQUEST_LINE, "U": "/webhooks/5f0c/", "q": f"token={TOKEN}&x=1",
                           "s": "200", "b": "2"})
        logger.info('%(h)s "%(r)s" %(s)s %(b)s q=%(q)s', atoms)

        line = stream.getvalue()
        assert TOKEN not in line and "/webhooks/5f0c/" in line and "x=1" in line, line


def test_django_lines_never_carry_the_token_or_a_verify_token():
    logger, stream = _configured(logging_config(log_format="plain", level="INFO"), "django.server")
    logger.info('"%s" %s %s', f"GET /webhooks/5f0c/?hub.mode=subscribe&hub.verify_token={TOKEN}&hub.challenge=1 HTTP/1.1", 200, 1)
    logger.warning(f"Bad request /webhooks/5f0c/?token={TOKEN}")

    assert TOKEN not in stream.getvalue() and "hub.challenge=1" in stream.getvalue()
