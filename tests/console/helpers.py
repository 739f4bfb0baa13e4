"""Signing in to the console through the real app, and reading its forms."""

from __future__ import annotations

import re

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
