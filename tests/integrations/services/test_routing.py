import logging

import pytest
from django.core.cache import cache

from integrations.services import routing
from integrations.services.routing import resolve, route_integrations, route_key
from integrations.services.switching import switch_primary
from tests.factories import make_integration

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def three(organization):
    a = make_integration(organization=organization, display_name="A", priority=10)
    b = make_integration(organization=organization, display_name="B", priority=30)
    c = make_integration(organization=organization, display_name="C", priority=20)
    return a, b, c


def test_route_is_primary_then_fallbacks_by_priority(organization, three):
    a, b, c = three
    route = resolve(organization_id=organization.pk, channel="whatsapp")
    assert route.integration_ids == (a.pk, b.pk, c.pk)
    assert [i.display_name for i in route_integrations(organization=organization, channel="whatsapp")] == ["A", "B", "C"]


def test_second_resolve_comes_from_the_redis_cache(organization, three):
    first = resolve(organization_id=organization.pk, channel="whatsapp")
    second = resolve(organization_id=organization.pk, channel="whatsapp")
    assert first.from_cache is False and second.from_cache is True
    assert first.integration_ids == second.integration_ids
    # It really is in Redis, under the tenant-namespaced key.
    assert cache.get(route_key(organization.pk, "whatsapp"))["ids"][0] == str(three[0].pk)


def test_switch_invalidates_the_cached_route_at_once(organization, three):
    a, b, c = three
    assert resolve(organization_id=organization.pk, channel="whatsapp").primary_id == a.pk
    assert resolve(organization_id=organization.pk, channel="whatsapp").from_cache
    switch_primary(organization=organization, channel="whatsapp", target=c, actor="system:test")
    route = resolve(organization_id=organization.pk, channel="whatsapp")
    assert route.primary_id == c.pk
    assert route.integration_ids == (c.pk, b.pk, a.pk)


def test_inactive_integrations_are_not_routed(organization, three):
    a, b, c = three
    from integrations.services.integrations import integration_deactivate

    resolve(organization_id=organization.pk, channel="whatsapp")
    integration_deactivate(integration=b, actor="system:test")
    assert resolve(organization_id=organization.pk, channel="whatsapp").integration_ids == (a.pk, c.pk)


def test_resolve_answers_from_postgresql_when_redis_is_not_listening(organization, three, settings, caplog):
    a, b, c = three
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }
    routing._last_warning_at.clear()
    with caplog.at_level(logging.WARNING, logger="integrations.services.routing"):
        first = resolve(organization_id=organization.pk, channel="whatsapp")
        second = resolve(organization_id=organization.pk, channel="whatsapp")
        # A switch still works (its cache bump fails quietly) and routing follows it.
        switch_primary(organization=organization, channel="whatsapp", target=b, actor="system:test")
        third = resolve(organization_id=organization.pk, channel="whatsapp")
    assert first.integration_ids == second.integration_ids == (a.pk, b.pk, c.pk)
    assert not first.from_cache and not second.from_cache
    assert third.primary_id == b.pk
    warnings = [r for r in caplog.records if "Route cache unavailable" in r.getMessage()]
    # Logged once per cause and interval, not once per request.
    assert 1 <= len(warnings) <= 3
    assert len([r for r in warnings if "during read" in r.getMessage()]) == 1


def test_routes_are_namespaced_per_tenant(organization, other_organization):
    mine = make_integration(organization=organization, display_name="Mine")
    theirs = make_integration(organization=other_organization, display_name="Theirs")
    assert resolve(organization_id=organization.pk, channel="whatsapp").integration_ids == (mine.pk,)
    assert resolve(organization_id=other_organization.pk, channel="whatsapp").integration_ids == (theirs.pk,)
    assert route_integrations(organization=other_organization, channel="whatsapp")[0].pk == theirs.pk
