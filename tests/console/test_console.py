"""The console over HTTP: sign-in, sessions, CSRF, throttling, roles, the audit log, the pages."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from bankfeeds.api_keys import service as api_keys
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.models import ApiKey, Operator, OperatorAudit, OperatorSession
from tests.bank_transactions.helpers import post, txn, write_url
from tests.console.helpers import ADMIN_PASSWORD, VIEWER_PASSWORD, field, make_operator, sign_in
from tests.fixtures.factories import make_linked_feed


def _console(app: FastAPI, address: str = "testclient") -> TestClient:
    return TestClient(app, raise_server_exceptions=False, client=(address, 50000))


def _audit(database: Database) -> list[tuple[str, str, str | None]]:
    with database.unit_of_work() as session:
        return [(r.username, r.action, r.target) for r in session.scalars(select(OperatorAudit).order_by(OperatorAudit.seq))]


def test_passwords_are_argon2id_and_pages_need_a_session(app: FastAPI, database: Database, clock: FrozenClock) -> None:
    make_operator(database, clock, "Alice", "admin", ADMIN_PASSWORD)
    with database.unit_of_work() as session:
        row = session.scalars(select(Operator)).one()
        assert row.username == "alice" and row.password_hash.startswith("$argon2id$")
        assert ADMIN_PASSWORD not in row.password_hash
    with _console(app) as c:
        for path in ("/console", "/console/search?q=x", "/console/pushes", "/console/webhooks", "/console/api-keys"):
            response = c.get(path, follow_redirects=False)
            assert response.status_code == 303 and response.headers["location"] == "/console/login", path
        csrf = sign_in(c, "ALICE", ADMIN_PASSWORD)
        assert csrf
        cookie = c.cookies.get("bankfeeds_console")
        assert cookie
        with database.unit_of_work() as session:
            stored = session.scalars(select(OperatorSession)).one()
            assert stored.id != cookie and len(stored.id) == 64  # only the token's hash is kept
        assert c.get("/console").status_code == 200


def test_a_session_expires_when_idle_and_at_sign_out(app: FastAPI, database: Database, clock: FrozenClock) -> None:
    make_operator(database, clock, "alice", "admin", ADMIN_PASSWORD)
    with _console(app) as c:
        sign_in(c, "alice", ADMIN_PASSWORD)
        clock.advance(timedelta(minutes=29))
        assert c.get("/console").status_code == 200
        clock.advance(timedelta(minutes=31))
        assert c.get("/console", follow_redirects=False).status_code == 303
        csrf = sign_in(c, "alice", ADMIN_PASSWORD)
        assert c.post("/console/logout", data={"csrf_token": "wrong"}).status_code == 403
        assert c.post("/console/logout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
        assert c.get("/console", follow_redirects=False).status_code == 303
    assert [a for _, a, _ in _audit(database)] == ["sign_in", "sign_in", "sign_out"]


def test_sign_in_is_throttled_per_account_and_address_not_by_username_alone(
        app: FastAPI, database: Database, clock: FrozenClock) -> None:
    make_operator(database, clock, "alice", "admin", ADMIN_PASSWORD)
    with _console(app, "10.0.0.9") as attacker:
        page = attacker.get("/console/login")
        for _ in range(5):
            page = attacker.post("/console/login", data={"username": "alice", "password": "wrong password!",
                                                         "login_token": field(page.text, "login_token")})
            assert page.status_code == 401
            assert "not right" in page.text
        r = attacker.post("/console/login", data={"username": "alice", "password": ADMIN_PASSWORD,
                                                  "login_token": field(page.text, "login_token")})
        assert r.status_code == 429 and "Retry-After" in r.headers
    # Alice, from her own address, still signs in: the lock is on the (account, address) pair.
    with _console(app, "10.0.0.1") as alice:
        sign_in(alice, "alice", ADMIN_PASSWORD)
    clock.advance(timedelta(minutes=16))
    with _console(app, "10.0.0.9") as later:
        sign_in(later, "alice", ADMIN_PASSWORD)
    failures = [a for a in _audit(database) if a[1] == "sign_in_failed"]
    assert len(failures) == 5


def test_a_wrong_login_token_and_unknown_users(app: FastAPI, database: Database, clock: FrozenClock) -> None:
    with _console(app) as c:
        c.get("/console/login")
        r = c.post("/console/login", data={"username": "x", "password": "y", "login_token": "forged"})
        assert r.status_code == 400
        page = c.get("/console/login")
        r = c.post("/console/login", data={"username": "nobody", "password": "whatever at all",
                                           "login_token": field(page.text, "login_token")})
        assert r.status_code == 401 and "not right" in r.text


def test_a_viewer_reads_but_is_refused_every_action(app: FastAPI, database: Database, clock: FrozenClock) -> None:
    make_operator(database, clock, "victor", "viewer", VIEWER_PASSWORD)
    with database.unit_of_work() as session:
        key, _ = api_keys.create(session, clock, "bank backend")
    with _console(app) as c:
        csrf = sign_in(c, "victor", VIEWER_PASSWORD)
        assert c.get("/console/pushes").status_code == 200
        assert "API keys" not in c.get("/console").text.split("<main>")[0]
        refused = c.get("/console/api-keys")
        assert refused.status_code == 403 and "Only an administrator" in refused.text
        assert c.get(f"/console/api-keys/{key.id}/revoke").status_code == 403
        r = c.post(f"/console/api-keys/{key.id}/revoke", data={"csrf_token": csrf})
        assert r.status_code == 403
        r = c.post("/console/api-keys", data={"csrf_token": csrf, "name": "sneaky"})
        assert r.status_code == 403
    with database.unit_of_work() as session:
        assert session.get(ApiKey, key.id).revoked_at is None  # type: ignore[union-attr]
        assert len(list(session.scalars(select(ApiKey)))) == 1


def test_an_admin_creates_and_revokes_api_keys_with_an_audit_trail(
        app: FastAPI, database: Database, clock: FrozenClock) -> None:
    make_operator(database, clock, "alice", "admin", ADMIN_PASSWORD)
    with _console(app) as c:
        csrf = sign_in(c, "alice", ADMIN_PASSWORD)
        assert c.post("/console/api-keys", data={"csrf_token": "nope", "name": "x"}).status_code == 403
        created = c.post("/console/api-keys", data={"csrf_token": csrf, "name": "mobile app"})
        assert created.status_code == 200 and "copy it now" in created.text
        with database.unit_of_work() as session:
            key = session.scalars(select(ApiKey)).one()
        confirm = c.get(f"/console/api-keys/{key.id}/revoke")
        assert confirm.status_code == 200 and "cannot be undone" in confirm.text
        r = c.post(f"/console/api-keys/{key.id}/revoke", data={"csrf_token": csrf}, follow_redirects=False)
        assert r.status_code == 303
        assert c.post("/console/api-keys/not-a-key/revoke", data={"csrf_token": csrf}).status_code == 404
        audit_page = c.get("/console/audit")
        assert "api_key_revoke" in audit_page.text
    with database.unit_of_work() as session:
        assert session.get(ApiKey, key.id).revoked_at is not None  # type: ignore[union-attr]
    actions = [(a, t) for _, a, t in _audit(database)]
    assert ("api_key_create", str(key.id)) in actions and ("api_key_revoke", str(key.id)) in actions


def test_search_company_page_and_pushes_in_english_and_french(
        client: TestClient, app: FastAPI, database: Database, clock: FrozenClock) -> None:
    company, connection, _ = make_linked_feed(database, clock)
    post(client, write_url(company, connection), {"accountId": "acc-1", "transactions": [txn(1), txn(2)]})
    # One refused: older than what the account already holds.
    post(client, write_url(company, connection), {"accountId": "acc-1", "transactions": [
        txn(9, date="2026-11-01T09:00:00", balance=30)]})
    make_operator(database, clock, "alice", "viewer", VIEWER_PASSWORD)
    with _console(app) as c:
        sign_in(c, "alice", VIEWER_PASSWORD)
        for q in ("12345678", "acme", str(company.id), str(connection.id), "acc-1"):
            assert f"/console/companies/{company.id}" in c.get("/console/search", params={"q": q}).text, q
        assert "Nothing found" in c.get("/console/search", params={"q": "%_nobody"}).text
        page = c.get(f"/console/companies/{company.id}")
        assert page.status_code == 200 and "Acme Ltd" in page.text and "2 transaction(s)" in page.text
        fr = c.get(f"/console/companies/{company.id}?lang=fr")
        assert "Jours avant la déconnexion par QuickBooks" in fr.text and fr.headers["content-language"] == "fr"
        assert c.get("/console/companies/not-an-id").status_code == 404
        assert c.get("/console/pushes", params={"status": "Success"}).status_code == 200
        failed = c.get("/console/pushes", params={"status": "Failed"})
        assert "Push failed for bankTransactions" in failed.text and "t9: " in failed.text
        assert "Payment 1" not in failed.text
        assert "No push matches." in c.get("/console/pushes", params={"status": "TimedOut", "lang": "en"}).text
        assert c.get("/console/pushes", params={"days": "0"}).status_code in (400, 422)
