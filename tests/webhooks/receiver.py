"""A real HTTP receiver on 127.0.0.1 that verifies every webhook with the svix library, unchanged."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from svix.webhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    verified: bool
    error: str | None
    status: int
    peer: str = ""  # the sender's address and port: one per connection

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def event(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


# Decides the answer to a verified request: (status, body), or (status, body, extra headers).
# Default: 200 "ok".
Responder = Callable[[Received], tuple[int, bytes] | tuple[int, bytes, dict[str, str]]]


@dataclass
class Receiver:
    secret: str | None = None
    responder: Responder | None = None
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                verified, error = True, None
                extra: dict[str, str] = {}
                try:
                    Webhook(receiver.secret or "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").verify(body, headers)
                except WebhookVerificationError as exc:
                    verified, error = False, str(exc)
                item = Received(headers, body, verified, error, 0, f"{self.client_address[0]}:{self.client_address[1]}")
                if not verified:
                    status, answer = 400, f"signature: {error}".encode()
                elif receiver.responder is not None:
                    status, answer, *more = receiver.responder(item)
                    extra = more[0] if more else {}
                else:
                    status, answer = 200, b"ok"
                item.status = status
                with receiver._lock:
                    receiver.received.append(item)
                try:
                    self.send_response(status)
                    self.send_header("content-length", str(len(answer)))
                    for name, value in extra.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:
                    pass  # the sender went away (killed, or timed out)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks"
        # shutdown() waits for serve_forever's next poll: 0.05 s, not the default 0.5 s, per test.
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def accepted(self) -> list[Received]:
        """Verified requests answered with a 2xx."""
        return [r for r in self.snapshot() if r.verified and 200 <= r.status < 300]

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout: float = 30.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            items = self.snapshot()
            if predicate(items):
                return items
            time.sleep(0.02)
        raise AssertionError(f"receiver: condition not met within {timeout} s; got {len(self.snapshot())} requests")
