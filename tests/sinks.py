"""Real local HTTP servers that receive forwarded events, with scripted answers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    """One request a sink received."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Answer:
    """What a sink answers: status, headers, body, and an optional delay before answering."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client killed mid-request (chaos tests) is expected, not news


class Sink:
    """A threaded HTTP server on loopback; script(request_number, received) picks each answer."""

    def __init__(self, script: Callable[[int, Received], Answer] | None = None) -> None:
        self.script = script or (lambda _number, _received: Answer())
        self.received: list[Received] = []
        self._lock = threading.Lock()
        sink = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                request = Received(
                    self.path, dict(self.headers.items()), self.rfile.read(length), time.monotonic()
                )
                with sink._lock:
                    sink.received.append(request)
                    number = len(sink.received)
                answer = sink.script(number, request)
                if answer.delay:
                    time.sleep(answer.delay)
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except OSError:
                    pass  # the client gave up waiting

            do_GET = do_POST

            def log_message(self, *args: object) -> None:
                pass

        self.server = _QuietServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hook"

    def start(self) -> Sink:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def ids(self) -> list[str]:
        """webhook-id of every request received, in order."""
        with self._lock:
            return [request.headers.get("webhook-id", "") for request in self.received]
