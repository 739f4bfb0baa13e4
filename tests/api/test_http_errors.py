"""API-wide HTTP behaviour of the public API: every error in Codat's envelope, with its status."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bankfeeds.config import Settings
from tests.fixtures.app import LiveServer, basic


def assert_envelope(r: httpx.Response, status: int) -> dict[str, object]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["statusCode"] == status and body["service"] == "PublicApi" and body["error"]
    assert body["canBeRetried"] in ("Unknown", "True", "False") and body["detailedErrorCode"] == 0
    assert isinstance(body["correlationId"], str) and len(body["correlationId"]) >= 16
    return dict(body)


ACCOUNTS = "/companies/{c}/connections/{k}/connectionInfo/bankFeedAccounts"


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("PUT", "/companies", "GET, POST"),
    ("DELETE", "/companies", "GET, POST"),
    ("POST", "/companies/{c}", "DELETE, GET, PATCH, PUT"),
    ("PUT", "/companies/{c}/connections", "GET, POST"),
    ("POST", "/companies/{c}/connections/{k}", "DELETE, GET, PATCH"),
    # A literal segment is its own resource, even where {accountId} would match it too.
    ("GET", ACCOUNTS + "/batch", "POST"),
    ("PUT", ACCOUNTS + "/credentials", "DELETE, POST"),
    ("OPTIONS", ACCOUNTS + "/acc-1", "DELETE, PATCH"),
])
def test_405_lists_the_methods_of_the_resource(client: TestClient, method: str, path: str, allow: str) -> None:
    r = client.request(method, path.format(c=uuid.uuid4(), k=uuid.uuid4()))
    body = assert_envelope(r, 405)
    assert r.headers["allow"] == allow
    assert method in str(body["error"])


def test_unknown_paths_are_404_envelopes(client: TestClient, anon_client: TestClient) -> None:
    for path in ["/nope", "/companies/x/nope", f"/companies/{uuid.uuid4()}/connections/x/y/z"]:
        assert_envelope(client.get(path), 404)
        assert_envelope(client.post(path, json={}), 404)
    # Unknown paths say 404 whoever asks: nothing to authenticate against.
    assert_envelope(anon_client.get("/nope"), 404)


def test_malformed_path_ids_are_404_not_400(client: TestClient) -> None:
    for method, path in [("GET", "/companies/not-a-uuid"), ("DELETE", "/companies/1"),
                         ("PATCH", "/companies/x"), ("GET", "/companies/x/connections"),
                         ("GET", f"/companies/{uuid.uuid4()}/connections/not-a-uuid")]:
        assert_envelope(client.request(method, path, json={}), 404)


def test_every_error_carries_a_fresh_correlation_id(client: TestClient, anon_client: TestClient) -> None:
    seen = {
        str(assert_envelope(anon_client.get("/companies"), 401)["correlationId"]),
        str(assert_envelope(client.get("/nope"), 404)["correlationId"]),
        str(assert_envelope(client.get("/nope"), 404)["correlationId"]),
        str(assert_envelope(client.put("/companies"), 405)["correlationId"]),
        str(assert_envelope(client.post("/companies", content=b"{"), 400)["correlationId"]),
        str(assert_envelope(client.get("/companies", params={"query": "nope=1"}), 400)["correlationId"]),
    }
    assert len(seen) == 6


# --- request bodies over max_body_bytes ----------------------------------------------------------

@pytest.fixture
def small_limit_server(app: FastAPI, settings: Settings) -> Iterator[LiveServer]:
    """The real app on a real port (uvicorn, so chunked bodies arrive chunked) with a 1 kB limit."""
    settings.max_body_bytes = 1000
    from bankfeeds.app import create_app

    small = create_app(settings, clock=app.state.clock, database=app.state.database, run_worker=False)
    with LiveServer(small) as server:
        yield server


def test_oversize_bodies_are_413_declared_or_chunked(small_limit_server: LiveServer, api_key: str) -> None:
    url = small_limit_server.url + "/companies"
    headers = {"Authorization": basic(api_key), "Content-Type": "application/json"}
    body = b'{"name": "' + b"x" * 2000 + b'"}'
    # Declared by Content-Length: refused before it is read.
    r = httpx.post(url, content=body, headers=headers)
    assert_envelope(r, 413)
    assert "1000 bytes" in r.json()["error"]

    # Chunked (no Content-Length): refused once the count passes the limit.
    def chunks() -> Iterator[bytes]:
        for i in range(0, len(body), 100):
            yield body[i:i + 100]

    r = httpx.post(url, content=chunks(), headers=headers)
    assert "content-length" not in {k.lower() for k in r.request.headers}
    assert_envelope(r, 413)
    # Also with an Idempotency-Key (its middleware reads the body first), and nothing was created.
    r = httpx.post(url, content=chunks(), headers={**headers, "Idempotency-Key": "k"})
    assert_envelope(r, 413)
    assert httpx.get(url, headers=headers).json()["totalResults"] == 0
    # A body within the limit still works.
    assert httpx.post(url, json={"name": "Small"}, headers=headers).status_code == 200

