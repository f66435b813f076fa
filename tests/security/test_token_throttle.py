"""Finding 7: the token endpoint's throttle trusted ``X-Forwarded-For``.

60 guesses with 60 different ``X-Forwarded-For`` values were never answered 429. Now the client
address is ``REMOTE_ADDR`` unless ``TRUST_PROXY`` (then the address the one trusted proxy
appended), and guesses are also counted per username whatever the address.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.factories import make_user

TOKEN_URL = "/api/v1/auth/token/"
GUESSES = 20  # the report used 60; 20 shows the same with less password hashing


@pytest.fixture
def rates(settings):
    def set_rates(*, address: str, username: str, trust_proxy: bool = False):
        cache.clear()
        # The deployment's own setting (TRUST_PROXY is off in the tests), unless told otherwise.
        proxies = {"NUM_PROXIES": 1} if trust_proxy else {}
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            **proxies,
            "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
                                       "auth_token": address, "auth_token_username": username},
        }

    return set_rates


def _guess(client: APIClient, username: str, n: int, **extra) -> int:
    return client.post(TOKEN_URL, {"username": username, "password": f"guess-{n}"}, format="json", **extra).status_code


@pytest.mark.django_db
def test_forged_forwarded_for_does_not_reset_the_address_throttle(rates):
    rates(address="5/min", username="100000/min")
    make_user(username="victim")
    client = APIClient()

    statuses = [_guess(client, f"user-{n}", n, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}") for n in range(GUESSES)]

    assert statuses[:5] == [400] * 5
    assert set(statuses[5:]) == {429}


@pytest.mark.django_db
def test_one_username_from_many_addresses_is_throttled(rates):
    rates(address="100000/min", username="5/min")
    make_user(username="victim")
    client = APIClient()

    statuses = [_guess(client, "Victim" if n % 2 else "victim", n, REMOTE_ADDR=f"203.0.113.{n}") for n in range(GUESSES)]

    assert statuses[:5] == [400] * 5
    assert set(statuses[5:]) == {429}


@pytest.mark.django_db
def test_behind_a_trusted_proxy_the_address_it_appended_counts(rates):
    rates(address="5/min", username="100000/min", trust_proxy=True)
    client = APIClient()

    # Each request comes from another client (the proxy appends the real address last): none throttled.
    spread = [_guess(client, f"u{n}", n, HTTP_X_FORWARDED_FOR=f"6.6.6.6, 198.51.100.{n}") for n in range(8)]
    # One client forging the first entry: the proxy's entry is the same, so it is throttled.
    forged = [_guess(client, f"v{n}", n, HTTP_X_FORWARDED_FOR=f"10.0.0.{n}, 198.51.100.200") for n in range(8)]

    assert set(spread) == {400}
    assert forged[:5] == [400] * 5 and set(forged[5:]) == {429}
