"""Signing in to the console through the real app, and reading its forms."""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fastapi.testclient import TestClient

from bankfeeds.console import service
from bankfeeds.kit.clock import Clock
from bankfeeds.kit.db import Database

ADMIN_PASSWORD = "admin password 1234"
VIEWER_PASSWORD = "viewer password 1234"


def make_operator(database: Database, clock: Clock, username: str, role: str, password: str) -> None:
    with database.unit_of_work() as session:
        service.create_operator(session, clock, username, password, role)


def field(html: str, name: str) -> str:
    m = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert m, f"no {name} field"
    return m.group(1)


def sign_in(client: TestClient, username: str, password: str) -> str:
    """Signs in; returns the session's CSRF token."""
    page = client.get("/console/login")
    response = client.post("/console/login", data={
        "username": username, "password": password, "login_token": field(page.text, "login_token")},
        follow_redirects=False)
    assert response.status_code == 303, response.text
    overview = client.get("/console")
    assert overview.status_code == 200
    return field(overview.text, "csrf_token")


class Receiver:
    """The bank's webhook endpoint, on 127.0.0.1: answers ``status``."""

    def __init__(self) -> None:
        self.status = 500
        self.received = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                outer.received += 1
                self.send_response(outer.status)
                self.end_headers()
                self.wfile.write(b"ok" if outer.status < 300 else b"down for maintenance")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
