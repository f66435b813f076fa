"""Bad input through the API: each answers a clear 4xx in the API's error shape and writes nothing.

Oversized bodies, malformed JSON, invalid phone numbers, unknown channels and 10,000-character
names, against the write routes of the API and the frontend's routes. Every case counts the
rows of Message, Call, OrganizationIntegration and AuditEvent before and after.
"""

from __future__ import annotations

import json

import pytest
from django.conf import settings

from audit.models import AuditEvent
from integrations.models import Call, Message, OrganizationIntegration
from tests.factories import make_integration

HUGE = "x" * 10_000
TO = "+5491155550000"


def oversized_message() -> bytes:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return json.dumps({"to": TO, "body": "x" * (limit + 1)}).encode()


# (name, method, path, body, content type, expected status, field expected in ``errors`` or None)
CASES = [
    ("oversized message body", "post", "/api/v1/messages/", oversized_message, "application/json", 413, None),
    ("oversized integration body", "post", "/api/v1/integrations/",
     lambda: json.dumps({"provider_name": "sandbox_whatsapp", "display_name": "Big",
                         "config": {"label": "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE}}).encode(),
     "application/json", 413, None),
    ("malformed JSON", "post", "/api/v1/messages/", b'{"to": "+5491155550000", "body": ', "application/json", 400, None),
    ("JSON that is not an object", "post", "/api/v1/messages/", b'["+5491155550000", "hi"]', "application/json", 400,
     "non_field_errors"),
    ("not JSON at all", "post", "/api/v1/messages/", b"to=+5491155550000&body=hi", "application/x-www-form-urlencoded",
     415, None),
    ("letters for a phone number", "post", "/api/v1/messages/", {"to": "call me maybe", "body": "hi"}, None, 400, "to"),
    ("too short a phone number", "post", "/api/v1/messages/", {"to": "+1", "body": "hi"}, None, 400, "to"),
    ("10,000-digit phone number", "post", "/api/v1/messages/", {"to": "+" + "5" * 10_000, "body": "hi"}, None, 400, "to"),
    ("invalid call recipient", "post", "/api/v1/calls/", {"to": "0000"}, None, 400, "to"),
    ("invalid caller id", "post", "/api/v1/calls/", {"to": TO, "from_number": "nobody"}, None, 400, "from_number"),
    ("unknown channel for a message", "post", "/api/v1/messages/", {"channel": "telegram", "to": TO, "body": "hi"},
     None, 400, "channel"),
    ("unknown channel for an integration", "post", "/api/v1/integrations/",
     {"provider_name": "sandbox_whatsapp", "display_name": "X", "channel": "telegram"}, None, 400, "channel"),
    ("unknown channel switch", "post", "/api/v1/channels/telegram/switch/",
     {"integration_id": "00000000-0000-0000-0000-000000000000"}, None, 404, None),
    ("unknown channel (frontend configure)", "post", "/api/integrations/telegram/provider/configure",
     {"provider_type": "sandbox_whatsapp", "config_data": {}}, None, 404, None),
    ("10,000-character display_name", "post", "/api/v1/integrations/",
     {"provider_name": "sandbox_whatsapp", "display_name": HUGE}, None, 400, "display_name"),
    ("10,000-character provider name", "post", "/api/v1/integrations/",
     {"provider_name": HUGE, "display_name": "X"}, None, 400, "provider_name"),
    ("10,000-character message reference", "post", "/api/v1/messages/", {"to": TO, "body": "hi", "reference": HUGE},
     None, 400, "reference"),
    ("10,000-character call reference", "post", "/api/v1/calls/", {"to": TO, "reference": HUGE}, None, 400, "reference"),
    ("10,000-character switch reason", "post", "/api/v1/channels/whatsapp/switch/",
     {"integration_id": "00000000-0000-0000-0000-000000000000", "reason": HUGE}, None, 400, "reason"),
    ("10,000-character provider (frontend configure)", "post", "/api/integrations/whatsapp/provider/configure",
     {"provider_type": HUGE, "config_data": {}}, None, 400, "provider_type"),
]


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in (Message, Call, OrganizationIntegration, AuditEvent)}


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "method", "path", "body", "content_type", "expected", "field"), CASES,
                         ids=[case[0] for case in CASES])
def test_bad_input_answers_a_clear_4xx_and_writes_nothing(tenant, api, name, method, path, body, content_type,
                                                           expected, field):
    make_integration(organization=tenant.organization, display_name="Primary")
    make_integration(organization=tenant.organization, provider_name="sandbox_voip", display_name="Voice")
    before = row_counts()

    if content_type is None:
        response = getattr(api, method)(path, body, format="json")
    else:
        payload = body() if callable(body) else body
        response = getattr(api, method)(path, payload, content_type=content_type)

    assert response.status_code == expected, response.content[:500]
    assert response["Content-Type"] == "application/json"
    error = response.json()
    assert set(error) == {"code", "detail", "errors"}
    assert error["code"] and error["detail"]
    assert b"Traceback" not in response.content
    if field is not None:
        assert field in error["errors"], error
    assert row_counts() == before


@pytest.mark.django_db
def test_a_10000_character_display_name_on_update_is_refused_and_the_name_kept(tenant, api):
    integration = make_integration(organization=tenant.organization, display_name="Primary")
    before = row_counts()
    response = api.patch(f"/api/v1/integrations/{integration.pk}/", {"display_name": HUGE}, format="json")
    assert response.status_code == 400
    assert "display_name" in response.json()["errors"]
    integration.refresh_from_db()
    assert integration.display_name == "Primary"
    assert row_counts() == before
