"""The OpenAPI schema, Swagger UI served offline, and the service probes."""

from __future__ import annotations

import re

from django.contrib.staticfiles import finders
from drf_spectacular.validation import validate_schema

from .test_isolation import ENDPOINTS

SIDECAR_BUNDLE = "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"


def test_schema_is_valid_openapi_and_covers_every_operation(api_client):
    response = api_client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    validate_schema(schema)
    operations = {(path, method.upper()) for path, item in schema["paths"].items() for method in item}
    templated = {re.sub(r"\{[^}]+\}", "{}", path) for path, _ in operations}
    documented_routes = len(templated)
    assert documented_routes >= 25
    for path, method in operations:
        responses = schema["paths"][path][method.lower()]["responses"]
        assert {"400", "401", "403", "404", "429"} <= set(responses)
    # Every discovered route except the schema and docs themselves has an operation.
    undocumented = {e for e in ENDPOINTS if e[0] not in ("api:schema", "api:docs")} - {
        e for e in ENDPOINTS for path, method in operations if method == e[1]
    }
    assert not undocumented
    assert len(operations) == len([e for e in ENDPOINTS if e[0] not in ("api:schema", "api:docs")])
    org_header = schema["paths"]["/api/v1/integrations/"]["get"]["parameters"]
    assert any(p["name"] == "X-Org-Id" and p["in"] == "header" for p in org_header)


def test_swagger_ui_loads_offline_from_sidecar_files(api_client, settings):
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    page = api_client().get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert SIDECAR_BUNDLE in html
    assert not re.search(r"(src|href)=\"https?://", html), "the docs page must not load anything from a CDN"
    assert finders.find(SIDECAR_BUNDLE)
    bundle = api_client().get(f"/static/{SIDECAR_BUNDLE}")
    assert bundle.status_code == 200


def test_healthz_answers_without_dependencies(api_client):
    response = api_client().get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_when_database_and_redis_answer(api_client, db):
    response = api_client().get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


def test_readyz_names_an_unreachable_redis(api_client, db, settings):
    # Port 1 on the loopback: nothing listens there, the connection is refused at once.
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = api_client().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("unreachable")
    assert "redis" in body["detail"]
