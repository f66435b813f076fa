"""Findings 8 and 10: what anyone who knows a webhook URL can do.

8. 300 forged 2 MB posts made 300 ``webhook.rejected`` rows in an organization's audit trail.
   Now every rejection is logged, and at most one row per integration per window is written.
10. Validly signed bodies of odd shapes (``[]``, ``null``, NUL bytes, nesting 100k deep, a
    400-digit number) answered 500. Now a malformed body is a 400, never a 500.
"""

from __future__ import annotations

import json
import logging

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from providers import sandbox
from tests.factories import make_integration

FORGERIES = 300


def _path(integration) -> str:
    return reverse("webhooks:receive", kwargs={"integration_id": integration.pk})


@pytest.mark.django_db
def test_forged_webhooks_make_one_audit_row_per_window_and_a_log_line_each(organization, other_organization, caplog):
    integration = make_integration(organization=organization, display_name="Target", config={"label": "t"})
    neighbour = make_integration(organization=other_organization, display_name="Neighbour", config={"label": "n"})
    client = Client()
    body = b"x" * 2048  # the report used 2 MB bodies; the size is not what is counted

    with caplog.at_level(logging.WARNING, logger="integrations.services.webhooks"):
        statuses = {client.post(_path(integration), data=body, content_type="application/json",
                                HTTP_X_SANDBOX_SIGNATURE="forged").status_code for _ in range(FORGERIES)}
    client.post(_path(neighbour), data=body, content_type="application/json", HTTP_X_SANDBOX_SIGNATURE="forged")

    assert statuses == {403}
    rows = AuditEvent.objects.filter(action="webhook.rejected")
    assert rows.for_org(organization).count() == 1 and rows.for_org(other_organization).count() == 1
    assert rows.for_org(organization).get().after["window_seconds"] > 0
    logged = [r for r in caplog.records if "Rejected webhook" in r.getMessage() and str(integration.pk) in r.getMessage()]
    assert len(logged) == FORGERIES and f"({FORGERIES} in this" in logged[-1].getMessage()


@pytest.mark.django_db
def test_the_next_window_carries_the_previous_windows_count(organization, settings, monkeypatch):
    from integrations.services import webhooks

    integration = make_integration(organization=organization, config={"label": "t"})
    client = Client()
    clock = {"now": 1_000_000.0}
    monkeypatch.setattr(webhooks.time, "time", lambda: clock["now"])
    for _ in range(7):
        client.post(_path(integration), data=b"{}", content_type="application/json", HTTP_X_SANDBOX_SIGNATURE="forged")
    clock["now"] += settings.WEBHOOK_REJECTION_AUDIT_SECONDS

    client.post(_path(integration), data=b"{}", content_type="application/json", HTTP_X_SANDBOX_SIGNATURE="forged")

    rows = list(AuditEvent.objects.filter(action="webhook.rejected").order_by("created_at"))
    assert [row.after["rejected_in_previous_window"] for row in rows] == [0, 7]


DEEP = b"[" * 100_000 + b"]" * 100_000
ODD_BODIES = {
    "empty list": b"[]",
    "null": b"null",
    "number": b"1" + b"0" * 400,
    "string": b'"hello"',
    "nul bytes": b'{"events": [{"kind": "inbound_message", "body": "a\\u0000b", "from": "\\u0000"}]}',
    "raw nul": b"\x00\x00\x00",
    "lone surrogate": b'{"events": [{"kind": "inbound_message", "body": "\\ud800"}]}',
    "deep": DEEP,
    "not json": b"<xml/>",
    "events not a list": b'{"events": {"a": 1}}',
    "odd event": b'{"events": [null, 1, "x", [], {"kind": null}]}',
}


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(ODD_BODIES))
def test_a_validly_signed_odd_body_is_never_a_500(organization, name):
    integration = make_integration(organization=organization, config={"label": "t"})
    body = ODD_BODIES[name]

    response = Client(raise_request_exception=False).post(
        _path(integration), data=body, content_type="application/json",
        HTTP_X_SANDBOX_SIGNATURE=sandbox.sign(integration.webhook_secret, body),
    )

    assert response.status_code in (200, 400), (name, response.status_code)
    assert json.dumps(response.content.decode("utf-8", "replace"))  # a short plain answer, never a traceback
    assert b"Traceback" not in response.content


@pytest.mark.django_db
def test_unauthenticated_odd_headers_are_refused_not_500(organization):
    """Telnyx with a 400-digit timestamp and Twilio behind a Host with port 99999: both were 500s
    before any signature was checked."""
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    public = base64.b64encode(Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()
    telnyx = make_integration(organization=organization, provider_name="telnyx",
                              config={"connection_id": "1234", "from_number": "+14155550100", "public_key": public},
                              credentials={"api_key": "KEY0123456789"})
    twilio = make_integration(organization=organization, provider_name="twilio_whatsapp",
                              config={"account_sid": "AC" + "0" * 32, "from_number": "+14155238886"},
                              credentials={"auth_token": "twilio-token-0123456789"})
    client = Client(raise_request_exception=False)

    telnyx_answer = client.post(_path(telnyx), data=b"{}", content_type="application/json",
                                HTTP_TELNYX_SIGNATURE_ED25519="AAAA", HTTP_TELNYX_TIMESTAMP="9" * 400)
    twilio_answer = client.post(_path(twilio), data="MessageSid=SM1", content_type="application/x-www-form-urlencoded",
                                HTTP_X_TWILIO_SIGNATURE="forged", HTTP_HOST="testserver:99999")

    assert telnyx_answer.status_code == 403
    assert twilio_answer.status_code in (400, 403)
