"""The shared session: retries only idempotent requests, always times out, maps failures."""

import pytest

from providers.errors import ProviderUnavailable
from providers.http import make_session, send
from tests.providers.loopback import LoopbackServer, Reply, unused_port_url

TIMEOUT = (1.0, 0.5)


@pytest.fixture
def server():
    with LoopbackServer() as server:
        server.route("GET", "/thing", Reply(json={"ok": True}))
        server.route("POST", "/thing", Reply(json={"ok": True}))
        yield server


def test_get_is_retried_on_503_until_it_succeeds(server):
    server.queue(Reply(status=503), Reply(status=503))
    response = send("GET", server.url + "/thing", provider="Test", timeout=TIMEOUT, session=make_session(backoff_factor=0))
    assert response.status_code == 200
    assert len(server.requests_to("GET", "/thing")) == 3


def test_post_is_never_retried_on_a_server_error(server):
    server.queue(Reply(status=503), Reply(status=503))
    response = send("POST", server.url + "/thing", provider="Test", timeout=TIMEOUT, session=make_session(backoff_factor=0))
    assert response.status_code == 503
    assert len(server.requests_to("POST", "/thing")) == 1


def test_post_is_never_retried_after_a_read_timeout(server):
    server.queue(Reply(delay=2.0))
    with pytest.raises(ProviderUnavailable) as caught:
        send("POST", server.url + "/thing", provider="Test", timeout=(1.0, 0.2), session=make_session(backoff_factor=0))
    assert caught.value.code == "timeout"
    assert len(server.requests_to("POST", "/thing")) == 1


def test_retries_give_up_and_hand_back_the_last_answer(server):
    server.queue(*[Reply(status=502)] * 5)
    response = send("GET", server.url + "/thing", provider="Test", timeout=TIMEOUT, session=make_session(retries=2, backoff_factor=0))
    assert response.status_code == 502
    assert len(server.requests_to("GET", "/thing")) == 3


def test_connection_refused_names_no_url():
    url = unused_port_url() + "/Accounts/AC-not-in-messages"
    with pytest.raises(ProviderUnavailable) as caught:
        send("GET", url, provider="Test", timeout=TIMEOUT, session=make_session(retries=0))
    assert caught.value.code == "connection_error"
    assert "AC-not-in-messages" not in str(caught.value) and "127.0.0.1" not in str(caught.value)
