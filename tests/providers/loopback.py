"""A real HTTP server on 127.0.0.1 that plays a provider's API in tests.

It records every request, checks authentication with a function the test gives it, answers
from a route table, and can be scripted to answer the next requests differently (an error
status, a malformed body, a reply slower than the client's timeout). Nothing is mocked: the
adapter under test talks HTTP through ``requests`` and urllib3 like in production.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Reply:
    status: int = 200
    json: Any = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # Seconds to wait before answering (to outlast a client's read timeout).
    delay: float = 0.0

    def encoded(self) -> tuple[bytes, str]:
        if self.body is not None:
            return self.body, self.headers.get("Content-Type", "application/json")
        return json.dumps(self.json if self.json is not None else {}).encode(), "application/json"


MALFORMED = Reply(status=200, body=b'{"this is": not json', headers={"Content-Type": "application/json"})


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode(), keep_blank_values=True)

    def header(self, name: str) -> str:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), "")


RouteAnswer = Reply | Callable[[Recorded], Reply]


class LoopbackServer:
    def __init__(
        self,
        *,
        authorize: Callable[[Recorded], bool] | None = None,
        unauthorized: Reply | None = None,
        host: str = HOST,
        port: int = 0,
    ):
        self.host, self.port = host, port
        self.authorize = authorize
        self.unauthorized = unauthorized or Reply(status=401, json={"error": "unauthorized"})
        self.routes: dict[tuple[str, str], RouteAnswer] = {}
        self.script: deque[Reply] = deque()
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----- configuration

    def route(self, method: str, path: str, answer: RouteAnswer) -> None:
        self.routes[(method.upper(), path)] = answer

    def queue(self, *replies: Reply) -> None:
        """Answer the next requests with these, in order, before the route table applies."""
        with self._lock:
            self.script.extend(replies)

    def requests_to(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method.upper() and r.path == path]

    # ----- lifecycle

    @property
    def url(self) -> str:
        assert self._httpd is not None, "start() the server first"
        return f"http://{self.host}:{self._httpd.server_address[1]}"

    def start(self) -> LoopbackServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):  # keep test output quiet
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                recorded = Recorded(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query, keep_blank_values=True),
                    headers=dict(self.headers.items()),
                    body=body,
                )
                reply = server._answer(recorded)
                if reply.delay:
                    server._stopping.wait(reply.delay)
                payload, content_type = reply.encoded()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in reply.headers.items():
                        if name.lower() != "content-type":
                            self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        self._httpd = ThreadingHTTPServer((self.host, self.port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="loopback", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ----- answering

    def _answer(self, recorded: Recorded) -> Reply:
        with self._lock:
            self.requests.append(recorded)
            if self.authorize is not None and not self.authorize(recorded):
                return self.unauthorized
            if self.script:
                return self.script.popleft()
        answer = self.routes.get((recorded.method, recorded.path))
        if answer is None:
            return Reply(status=404, json={"error": f"no route for {recorded.method} {recorded.path}"})
        return answer(recorded) if callable(answer) else answer


def unused_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (the port was free a moment ago)."""
    import socket

    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port = sock.getsockname()[1]
    return f"http://{HOST}:{port}"
