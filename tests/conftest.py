import threading
import time

import pytest
from django.core.cache import cache
from django.utils import translation

from providers import sandbox
from providers.registry import reset_registry


@pytest.fixture(autouse=True, scope="session")
def _quick_password_hashing():
    """Tests create hundreds of users; Django's PBKDF2 (a million iterations, on purpose) made
    that most of the API suite's time. MD5 first for what tests write, the defaults kept behind
    it so a hash made anywhere else still verifies."""
    from django.conf import settings
    from django.contrib.auth.hashers import get_hashers

    previous = settings.PASSWORD_HASHERS
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *previous]
    get_hashers.cache_clear()
    yield
    settings.PASSWORD_HASHERS = previous
    get_hashers.cache_clear()


@pytest.fixture(autouse=True)
def _clean_state(settings):
    """Each test starts with an empty route cache, sandbox outbox and a fresh registry.

    Tests change integration rows behind the services' backs (``.update(...)``), which no route
    version sees: in process, route rows are read on every delivery unless a test turns the
    cache on (DELIVERY_ROUTE_ROWS_MAX_AGE)."""
    from integrations.services.routing import forget_route_rows

    settings.DELIVERY_ROUTE_ROWS_MAX_AGE = 0
    forget_route_rows()
    cache.clear()
    sandbox.reset_outbox()
    reset_registry()
    yield
    reset_registry()
    # LocaleMiddleware leaves the last request's language active in this thread; the next test
    # (a command, a service) must start in LANGUAGE_CODE, not in the previous test's pt-BR.
    translation.deactivate()


@pytest.fixture
def organization(db):
    from tests.factories import make_organization

    return make_organization(name="Acme", slug="acme")


@pytest.fixture
def other_organization(db):
    from tests.factories import make_organization

    return make_organization(name="Globex", slug="globex")


def join_eager_threads(timeout: float = 15.0) -> None:
    """Wait (bounded) for tasks that eager Celery ran beside the request (a migration's
    execution, ``enqueue_on_commit(..., beside_request=True)``), so their effects are visible
    and no thread holds a connection when the test's database is flushed."""
    deadline = time.monotonic() + timeout
    for thread in [t for t in threading.enumerate() if t.name.startswith("eager-")]:
        thread.join(max(0.0, deadline - time.monotonic()))
        assert not thread.is_alive(), f"{thread.name} still running after {timeout} s"


@pytest.fixture
def eager_celery():
    """Celery tasks run in this process, as on the embedded default (`make run`)."""
    from config.celery import app as celery_app

    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    join_eager_threads()
    celery_app.conf.task_always_eager = previous
