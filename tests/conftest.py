import pytest
from django.core.cache import cache

from providers import sandbox
from providers.registry import reset_registry


@pytest.fixture(autouse=True)
def _clean_state(settings):
    """Each test starts with an empty route cache, sandbox outbox and a fresh registry."""
    cache.clear()
    sandbox.reset_outbox()
    reset_registry()
    yield
    reset_registry()


@pytest.fixture
def organization(db):
    from tests.factories import make_organization

    return make_organization(name="Acme", slug="acme")


@pytest.fixture
def other_organization(db):
    from tests.factories import make_organization

    return make_organization(name="Globex", slug="globex")
