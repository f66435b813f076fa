"""Finding 5: sandbox providers registered in production by default; ``record_redis_url`` made the
worker connect to any host:port; ``latency_ms`` unbounded (10^12 accepted, 60 s held a worker).

Phase 1 (4052772, af2bf0e) fixed these; this reproduces the report through the API. The
registry's DEBUG/SWITCHBOARD_SANDBOX switch is tested in a fresh interpreter per case in
tests/providers/test_registry.py.
"""

from __future__ import annotations

import pytest


@pytest.mark.django_db
@pytest.mark.parametrize("config,field", [
    ({"record_redis_url": "redis://10.0.0.5:6379/0"}, "record_redis_url"),
    ({"record_redis_url": "redis://127.0.0.1:1/0"}, "record_redis_url"),
    ({"latency_ms": 10**12}, "latency_ms"),
    ({"latency_ms": 60_000}, "latency_ms"),
])
def test_sandbox_settings_that_reach_elsewhere_or_hold_a_worker_are_refused(tenant, config, field):
    response = tenant.api().post("/api/v1/integrations/", {"provider_name": "sandbox_whatsapp", "display_name": "S",
                                                           "config": config}, format="json")

    assert response.status_code == 400, response.content[:300]
    assert field in response.json()["errors"]
