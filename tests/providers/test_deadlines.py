"""A tenant's read timeout bounds the wall time of one operation: retries, backoff,
Retry-After and a server that drips its answer one byte at a time included.

Before this bound, a GET with ``read_timeout=8`` against a stalling server took 24.5 s (three
attempts of 8 s). Every case here runs at about a second and asserts the wall time.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from providers.errors import ProviderUnavailable
from providers.http import MAX_TIMEOUT, bounded_timeout, make_session, send
from providers.whatsapp.meta_cloud import MetaCloudWhatsApp
from tests.providers.loopback import HOST, LoopbackServer, Reply

SLACK = 0.4  # scheduling slack on a shared two-core machine


class DripServer:
    """Answers every connection by sending ``preamble`` and then one byte of ``drip`` every
    ``interval`` seconds: each read gets data well within any read timeout, forever."""

    def __init__(self, preamble: bytes, drip: bytes = b"x" * 1000, interval: float = 0.1):
        self.preamble, self.drip, self.interval = preamble, drip, interval
        self.sock = socket.socket()
        self.sock.bind((HOST, 0))
        self.sock.listen(8)
        self.stop = threading.Event()
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        try:
            conn.recv(65536)
            conn.sendall(self.preamble)
            for byte in self.drip:
                if self.stop.wait(self.interval):
                    break
                conn.sendall(bytes([byte]))
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def drip():
    servers = []

    def start(preamble: bytes, **kwargs) -> DripServer:
        server = DripServer(preamble, **kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def timed(function, *args, **kwargs):
    started = time.monotonic()
    try:
        return function(*args, **kwargs), time.monotonic() - started
    except Exception as exc:  # noqa: BLE001 - the caller asserts on it
        return exc, time.monotonic() - started


def test_retries_of_a_stalling_server_stay_inside_the_read_timeout():
    with LoopbackServer() as server:
        server.route("GET", "/slow", Reply(delay=3.0, json={}))
        error, elapsed = timed(send, "GET", server.url + "/slow", provider="Test", timeout=(1.0, 1.0),
                               session=make_session(retries=2, backoff_factor=0))
    assert isinstance(error, ProviderUnavailable) and error.code == "timeout"
    assert elapsed < 1.0 + SLACK


def test_retry_after_never_sleeps_past_the_budget():
    with LoopbackServer() as server:
        server.route("GET", "/busy", Reply(status=503, headers={"Retry-After": "5"}))
        response, elapsed = timed(send, "GET", server.url + "/busy", provider="Test", timeout=(1.0, 1.0),
                                  session=make_session(retries=2))
        assert response.status_code == 503
        assert elapsed < 1.0 + SLACK
        assert len(server.requests) == 1  # a retry after 5 s does not fit in 1 s


def test_retries_that_fit_in_the_budget_still_happen():
    with LoopbackServer() as server:
        server.route("GET", "/thing", Reply(json={"ok": True}))
        server.queue(Reply(status=503), Reply(status=503))
        response, elapsed = timed(send, "GET", server.url + "/thing", provider="Test", timeout=(1.0, 2.0),
                                  session=make_session(retries=2, backoff_factor=0.05))
        assert response.status_code == 200 and len(server.requests) == 3
        assert elapsed < 2.0


@pytest.mark.parametrize(
    ("preamble", "what"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n", "the body"),
        (b"HTTP/1.1 200 OK\r\nX-Slow: ", "a header"),
        (b"", "the status line"),
    ],
)
def test_a_server_that_drips_its_answer_is_cut_at_the_deadline(drip, preamble, what):
    server = drip(preamble)
    error, elapsed = timed(send, "GET", server.url + "/drip", provider="Test", timeout=(1.0, 1.0),
                           session=make_session(retries=2, backoff_factor=0))
    assert isinstance(error, ProviderUnavailable), f"dripping {what}: {error!r}"
    assert error.code == "timeout"
    assert elapsed < 1.0 + SLACK, f"dripping {what} held the request {elapsed:.1f}s"


def test_an_adapter_operation_is_bounded_by_its_read_timeout(drip):
    server = drip(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
    adapter = MetaCloudWhatsApp(
        config={"phone_number_id": "1234", "base_url": server.url, "read_timeout": 1, "connect_timeout": 1},
        credentials={"access_token": "EAAG-secret-token-123456", "app_secret": "app-secret-123456"},
    )
    health, elapsed = timed(adapter.test_connection)
    assert health.status == "down" and "did not answer within 1s" in health.detail
    assert elapsed < 1.0 + SLACK


def test_a_body_over_the_limit_is_refused_not_read():
    with LoopbackServer() as server:
        server.route("GET", "/big", Reply(body=b"x" * 5000, headers={"Content-Type": "text/plain"}))
        with pytest.raises(ProviderUnavailable) as caught:
            send("GET", server.url + "/big", provider="Test", timeout=(1.0, 1.0), max_bytes=1000)
        assert caught.value.code == "response_too_large"


def test_a_chunked_body_over_the_limit_is_refused_while_reading(drip):
    body = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"".join(b"400\r\n" + b"y" * 1024 + b"\r\n" for _ in range(4)) + b"0\r\n\r\n"
    server = drip(body, drip=b"", interval=0)
    with pytest.raises(ProviderUnavailable) as caught:
        send("GET", server.url + "/big", provider="Test", timeout=(1.0, 1.0), max_bytes=2000)
    assert caught.value.code == "response_too_large"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(8, 8.0), ("2.5", 2.5), (-1, 5.0), (0, 5.0), ("nan", 5.0), ("inf", 5.0), (1e300, MAX_TIMEOUT),
     (1000000, MAX_TIMEOUT), (None, 5.0), ("abc", 5.0), (True, 1.0)],
)
def test_stored_timeouts_are_held_inside_their_bounds(value, expected):
    """Validation refuses these values; rows saved before it did are still bounded at use."""
    assert bounded_timeout(value, 5.0) == expected
