"""Login throttling that an attacker cannot turn against the customer (issue 9, item 7)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bankfeeds.app import create_app
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.models import Connection
from tests.fixtures.app import make_settings
from tests.fixtures.factories import make_company, make_connection, make_source_account
from tests.idx.helpers import IDX, idx_headers, new_credentials
from tests.link.test_pages import link_url

QUICKBOOKS = ("203.0.113.10", 443)   # the platform's address
ATTACKER = ("198.51.100.66", 443)


def _feed(database: Database, clock: FrozenClock) -> Connection:
    connection = make_connection(database, clock, make_company(database, clock))
    make_source_account(database, clock, connection, "acc-1", status="pending")
    return connection


def _from(app: FastAPI, address: tuple[str, int]) -> TestClient:
    return TestClient(app, client=address, raise_server_exceptions=False, follow_redirects=False)


@pytest.fixture
def quickbooks(app: FastAPI) -> Iterator[TestClient]:
    with _from(app, QUICKBOOKS) as c:
        yield c


@pytest.fixture
def attacker(app: FastAPI) -> Iterator[TestClient]:
    with _from(app, ATTACKER) as c:
        yield c


def test_failures_without_the_partner_key_never_lock_the_customer_out(
    client: TestClient, quickbooks: TestClient, attacker: TestClient, database: Database, clock: FrozenClock
) -> None:
    username, password = new_credentials(client, _feed(database, clock))
    for _ in range(50):
        r = attacker.get(f"{IDX}/accounts", headers=idx_headers(username, "wrong", partner_key="guess"))
        assert r.status_code in (401, 429)
    # The attacker is held off, by address...
    assert attacker.get(f"{IDX}/accounts", headers=idx_headers(username, "x", "guess")).status_code == 429
    # ...and the customer's feed keeps working, from the platform's address and even the attacker's.
    assert quickbooks.get(f"{IDX}/accounts", headers=idx_headers(username, password)).status_code == 200


def test_failures_count_per_username_and_address(
    client: TestClient, quickbooks: TestClient, attacker: TestClient, database: Database, clock: FrozenClock
) -> None:
    # Even a caller with the partner key locks only the (username, address) it failed from.
    username, password = new_credentials(client, _feed(database, clock))
    for _ in range(5):
        assert attacker.get(f"{IDX}/accounts", headers=idx_headers(username, "wrong")).status_code == 401
    locked = attacker.get(f"{IDX}/accounts", headers=idx_headers(username, password))
    assert locked.status_code == 429
    assert quickbooks.get(f"{IDX}/accounts", headers=idx_headers(username, password)).status_code == 200


def test_the_lockout_answer_says_how_long_to_wait(
    client: TestClient, attacker: TestClient, database: Database, clock: FrozenClock
) -> None:
    username, _ = new_credentials(client, _feed(database, clock))
    for _ in range(5):
        attacker.get(f"{IDX}/accounts", headers=idx_headers(username, "wrong"))
    r = attacker.get(f"{IDX}/accounts", headers=idx_headers(username, "wrong"))
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "900"
    assert "Try again in 15 minutes" in r.json()["error"]


def test_x_forwarded_for_is_ignored_unless_the_peer_is_a_configured_proxy(
    client: TestClient, database: Database, clock: FrozenClock, db_url: str
) -> None:
    username, password = new_credentials(client, _feed(database, clock))

    def attempts(app: FastAPI) -> list[int]:
        with _from(app, ("127.0.0.1", 5000)) as c:
            codes = [c.get(f"{IDX}/accounts", headers={**idx_headers(username, "wrong"),
                                                       "X-Forwarded-For": f"10.0.0.{i}"}).status_code
                     for i in range(6)]
            codes.append(c.get(f"{IDX}/accounts", headers={**idx_headers(username, password),
                                                           "X-Forwarded-For": "10.0.0.99"}).status_code)
            return codes

    # Not configured: rotating the header does not rotate the address that is counted.
    plain = create_app(make_settings(db_url), clock=clock, database=database, run_worker=False)
    assert attempts(plain) == [401] * 5 + [429, 429]
    # Behind a configured proxy, the forwarded address is the client's: each is counted apart.
    proxied = create_app(make_settings(db_url, forwarded_allow_ips="127.0.0.1"), clock=clock, database=database,
                         run_worker=False)
    username, password = new_credentials(client, _feed(database, clock))
    assert attempts(proxied) == [401] * 6 + [200]


def test_wrong_otps_for_one_link_do_not_block_another_customers_link(
    client: TestClient, app: FastAPI, database: Database, clock: FrozenClock
) -> None:
    office = ("192.0.2.20", 1234)  # two customers behind one office address
    mine, _ = link_url(client, str(make_company(database, clock, "Mine").id))
    theirs, _ = link_url(client, str(make_company(database, clock, "Theirs").id))
    with _from(app, office) as browser:
        path = urlsplit(theirs).path
        for _ in range(10):
            assert browser.get(path + "?otp=WRONG1").status_code == 401
        assert browser.get(path + "?otp=WRONG1").status_code == 429
        parts = urlsplit(mine)
        assert browser.get(f"{parts.path}?{parts.query}").status_code in (200, 303)
