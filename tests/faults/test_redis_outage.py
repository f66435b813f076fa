"""Redis stopped in the middle of a run, then started again on the same port.

The Django cache points at a ``redis-server`` this test starts; the API (read and write routes)
and delivery run in a loop while that Redis is shut down and later restarted. Every request
must succeed (the route comes from PostgreSQL meanwhile) and, once Redis is back, routes are
served from the cache again.
"""

from __future__ import annotations

import pytest

from integrations.models import Message
from integrations.services import routing
from integrations.services.delivery import dispatch
from providers import sandbox
from tests.factories import make_integration

pytestmark = pytest.mark.slow

ROUNDS = 24
STOP_AT, RESTART_AT = 8, 16
TO = "+5491155550000"


def cache_settings(url: str) -> dict:
    return {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "faults",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.25, "SOCKET_TIMEOUT": 0.5},
        }
    }


@pytest.mark.django_db
def test_api_and_delivery_answer_from_postgresql_while_redis_is_down_and_use_it_again_after(
    tenant, api, private_redis, settings
):
    settings.CACHES = cache_settings(private_redis.url)
    organization = tenant.organization
    primary = make_integration(organization=organization, display_name="Primary", config={"label": "primary"})
    make_integration(organization=organization, display_name="Fallback", config={"label": "fallback"})

    def resolve() -> routing.Route:
        return routing.resolve(organization_id=organization.pk, channel="whatsapp")

    resolve()
    assert resolve().from_cache, "the route should be cached in the private Redis before the outage"

    failures: list[tuple[int, str, int]] = []
    served_from_cache: dict[int, bool] = {}
    message_ids = []
    for round_number in range(ROUNDS):
        if round_number == STOP_AT:
            private_redis.shutdown()
            assert not private_redis.ping()
        if round_number == RESTART_AT:
            private_redis.start()

        channel = api.get("/api/v1/channels/whatsapp/")
        if channel.status_code != 200 or channel.json()["primary"]["id"] != str(primary.pk):
            failures.append((round_number, "GET channel", channel.status_code))
        created = api.post("/api/v1/messages/", {"to": TO, "body": f"round {round_number}"}, format="json")
        if created.status_code != 202:
            failures.append((round_number, "POST message", created.status_code))
            continue
        message_id = created.json()["id"]
        message_ids.append(message_id)
        outcome = dispatch.deliver_message(message_id=message_id)
        if outcome.status != dispatch.DELIVERED or outcome.integration_id != str(primary.pk):
            failures.append((round_number, "delivery", outcome.status))
        served_from_cache[round_number] = resolve().from_cache

    assert failures == []
    assert len(message_ids) == ROUNDS
    assert Message.objects.for_org(organization).filter(pk__in=message_ids, status="sent").count() == ROUNDS
    assert sorted(r["client_reference"] for r in sandbox.outbox) == sorted(message_ids)
    # While Redis was down nothing came from the cache; once it answered again the first
    # resolve refilled it and the next ones were cache hits.
    assert not any(served_from_cache[r] for r in range(STOP_AT, RESTART_AT))
    assert all(served_from_cache[r] for r in range(RESTART_AT, ROUNDS))
    assert all(served_from_cache[r] for r in range(STOP_AT))
