"""LOG_FORMAT=json: one JSON object per line, with the request, organization and integration ids
where known, and nothing a tenant must keep secret."""

from __future__ import annotations

import contextvars
import io
import json
import logging
import re

import pytest

from audit import context
from config.logging import ContextFilter, gunicorn_logconfig, json_formatter, logging_config
from integrations.models import Message
from integrations.services.delivery.intake import send_message
from tests.factories import SECRET_API_KEY, make_integration
from tests.integrations.test_pipeline import wait_for
from tests.integrations.test_webhooks import APP_SECRET, VERIFY_TOKEN, meta_body, meta_integration
from tests.integrations.workers import Worker

BODY = "Your verification code is 731904"


@pytest.fixture
def json_lines():
    """Every record logged under ``integrations`` while the test runs, as parsed JSON lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    handler.addFilter(ContextFilter())
    logger = logging.getLogger("integrations")
    logger.addHandler(handler)
    raw: list[str] = []

    def read() -> list[dict]:
        raw[:] = stream.getvalue().splitlines()
        return [json.loads(line) for line in raw]

    read.raw = raw
    yield read
    logger.removeHandler(handler)


def test_a_record_is_one_json_object_with_the_context_fields():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    handler.addFilter(ContextFilter())
    logger = logging.Logger("switchboard.test")
    logger.addHandler(handler)

    def a_process_serving_one_request():
        logger.warning("outside any request")
        with context.bound(request_id="req-123"):
            context.set_scope(organization_id="org-1")
            context.set_scope(integration_id="int-9")
            logger.warning("inside %s", "a request", extra={"request": "<WSGIRequest: GET '/?token=abc'>", "to": "+1555"})
            try:
                raise ValueError("boom")
            except ValueError:
                logger.exception("failed")
        logger.warning("after it")

    # A context of its own: what earlier tests left in this thread's context is not "outside".
    contextvars.Context().run(a_process_serving_one_request)

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) == 4
    assert lines[0]["request_id"] is None and lines[0]["organization_id"] is None
    assert lines[1] == {
        "time": lines[1]["time"], "level": "WARNING", "logger": "switchboard.test", "message": "inside a request",
        "request_id": "req-123", "organization_id": "org-1", "integration_id": "int-9",
    }
    assert "ValueError: boom" in lines[2]["exc_info"] and lines[2]["integration_id"] == "int-9"
    assert lines[3]["request_id"] is None and lines[3]["integration_id"] is None, "the scope ends with the request"


def test_plain_is_the_default_and_an_unknown_format_is_refused():
    assert logging_config(log_format="plain", level="INFO")["handlers"]["console"]["formatter"] == "plain"
    assert logging_config(log_format="json", level="INFO")["handlers"]["console"]["formatter"] == "json"
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        logging_config(log_format="xml", level="INFO")
    assert gunicorn_logconfig(log_format="plain")["handlers"]["console"]["formatter"] == "plain"
    gunicorn = gunicorn_logconfig(log_format="json")
    assert set(gunicorn["loggers"]) == {"gunicorn.error", "gunicorn.access"}
    assert gunicorn["handlers"]["console"]["formatter"] == "json"


@pytest.mark.django_db
def test_a_request_logs_its_id_organization_and_integration_and_no_secret(client, organization, json_lines):
    integration = meta_integration(organization)
    body = meta_body(messages=[("wamid.IN1", BODY)])

    response = client.post(
        f"/webhooks/{integration.pk}/", data=body, content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256="sha256=" + "0" * 64, HTTP_X_REQUEST_ID="req-webhook-42",
    )

    assert response.status_code == 403
    (line,) = [line for line in json_lines() if line["message"].startswith("Rejected webhook")]
    assert line["request_id"] == "req-webhook-42"
    assert line["organization_id"] == str(organization.pk)
    assert line["integration_id"] == str(integration.pk)
    raw = "\n".join(json_lines.raw)
    for secret in (APP_SECRET, VERIFY_TOKEN, "EAAG-token-webhooks-123", BODY, "731904"):
        assert secret not in raw


@pytest.mark.slow
def test_a_worker_logs_json_lines_with_the_task_and_its_organization(organization, transactional_db, tmp_path):
    integration = make_integration(organization=organization, display_name="Primary", config={"label": "p"})
    worker = Worker(name="jsonlogs", log_dir=tmp_path, env={"LOG_FORMAT": "json", "LOG_LEVEL": "INFO"}).start()
    try:
        message, _ = send_message(organization=organization, channel="whatsapp", to="+5491155550000", body=BODY,
                                  actor="system:test")
        wait_for(lambda: Message.objects.filter(pk=message.pk, status="sent").exists(), timeout=30, what="the send")
        wait_for(lambda: "succeeded" in worker.log_path.read_text(), timeout=10, what="the task's log line")
    finally:
        worker.stop()

    raw = worker.log_path.read_text()
    # Celery prints its start-up banner to stdout; every log record is a JSON line.
    lines = [json.loads(line) for line in raw.splitlines() if line.startswith("{")]
    assert not [line for line in raw.splitlines() if re.match(r"^\[\d{4}-\d\d-\d\d", line)], "a plain Celery log line"
    assert len(lines) >= 3 and all({"time", "level", "logger", "message", "request_id"} <= set(line) for line in lines)
    (done,) = [line for line in lines if "deliver_message" in line["message"] and "succeeded" in line["message"]]
    assert done["organization_id"] == str(organization.pk)
    assert done["integration_id"] == str(integration.pk)
    assert done["request_id"] and done["request_id"] in done["message"], "a task's request id is its task id"
    for secret in (BODY, "731904", SECRET_API_KEY):
        assert secret not in raw
