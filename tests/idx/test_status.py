"""Status the way Codat shows it: pulls link connections and connect accounts; 10 days without a pull
disconnect an account; a connection with every account disconnected is Unlinked; pulls relink it."""

from __future__ import annotations

from datetime import date, timedelta

from fastapi.testclient import TestClient

from bankfeeds.config import Settings
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.models import Connection, SourceAccount
from bankfeeds.source_accounts.tasks import disconnect_stale
from bankfeeds.worker.runner import Worker
from tests.fixtures.factories import make_company, make_connection, make_source_account
from tests.fixtures.reads import events
from tests.idx.helpers import IDX, idx_headers, new_credentials, reload


def _pending_feed(database: Database, clock: FrozenClock, accounts: tuple[str, ...] = ("acc-1",)
                  ) -> tuple[Connection, list[SourceAccount]]:
    connection = make_connection(database, clock, make_company(database, clock))
    return connection, [make_source_account(database, clock, connection, a, status="pending") for a in accounts]


def _types(database: Database) -> list[str]:
    return [e["eventType"] for e in events(database)]


def _run_disconnection(database: Database, settings: Settings, clock: FrozenClock) -> int:
    return Worker(database, settings, clock, tasks=[disconnect_stale]).drain()


def test_first_successful_call_links_the_connection_once(
    client: TestClient, anon_client: TestClient, database: Database, clock: FrozenClock
) -> None:
    connection, _ = _pending_feed(database, clock)
    pair = new_credentials(client, connection)
    assert reload(database, Connection, connection.id).status == "PendingAuth"
    assert anon_client.get(f"{IDX}/accounts", headers=idx_headers(*pair)).status_code == 200
    after = reload(database, Connection, connection.id)
    assert after.status == "Linked" and after.linked_at == clock.now()
    connected = events(database, "connection.connected")
    assert len(connected) == 1
    assert connected[0]["payload"]["connection"]["status"] == "Linked"
    assert connected[0]["payload"]["connection"]["id"] == str(connection.id)
    assert connected[0]["payload"]["referenceCompany"]["id"] == str(connection.company_id)
    clock.advance(timedelta(hours=1))
    assert anon_client.get(f"{IDX}/accounts", headers=idx_headers(*pair)).status_code == 200
    assert anon_client.get(f"{IDX}/accounts/acc-1/transactions", headers=idx_headers(*pair)).status_code == 200
    assert len(events(database, "connection.connected")) == 1
    # A failed login links nothing.
    other_connection, _ = _pending_feed(database, clock, ("x",))
    assert anon_client.get(f"{IDX}/accounts", headers=idx_headers(pair[0], "wrong")).status_code == 401
    assert reload(database, Connection, other_connection.id).status == "PendingAuth"


def test_first_transactions_pull_connects_the_account(
    client: TestClient, anon_client: TestClient, database: Database, clock: FrozenClock
) -> None:
    connection, (account, other) = _pending_feed(database, clock, ("acc-1", "acc-2"))
    pair = new_credentials(client, connection)
    # Listing accounts links the connection but connects no account: QuickBooks has not pulled them.
    anon_client.get(f"{IDX}/accounts", headers=idx_headers(*pair))
    assert reload(database, SourceAccount, account.id).status == "pending"
    r = anon_client.get(f"{IDX}/accounts/acc-1/transactions", headers=idx_headers(*pair))
    assert r.status_code == 200 and r.json()["results"] == []
    after = reload(database, SourceAccount, account.id)
    assert after.status == "connected" and after.feed_start_date == date(2026, 11, 24)
    assert after.last_pulled_at == clock.now()
    assert reload(database, SourceAccount, other.id).status == "pending"
    connected = events(database, "bankFeeds.sourceAccount.connected")
    assert len(connected) == 1 and connected[0]["payload"]["sourceAccount"]["id"] == "acc-1"
    assert connected[0]["payload"]["sourceAccount"]["status"] == "connected"
    assert reload(database, Connection, connection.id).last_sync == clock.now()

    clock.advance(timedelta(days=1))
    anon_client.get(f"{IDX}/accounts/acc-1/transactions", headers=idx_headers(*pair))
    again = reload(database, SourceAccount, account.id)
    assert again.last_pulled_at == clock.now() and again.feed_start_date == date(2026, 11, 24)
    assert len(events(database, "bankFeeds.sourceAccount.connected")) == 1


def test_the_platform_may_say_how_it_linked_the_account(
    client: TestClient, anon_client: TestClient, database: Database, clock: FrozenClock
) -> None:
    connection, (account,) = _pending_feed(database, clock)
    pair = new_credentials(client, connection)
    headers = {**idx_headers(*pair), "X-Feed-Start-Date": "2026-11-17", "X-Target-Account-Id": "qbo-35",
               "X-Target-Account-Name": "Checking (1234)"}
    assert anon_client.get(f"{IDX}/accounts/acc-1/transactions", headers=headers).status_code == 200
    after = reload(database, SourceAccount, account.id)
    assert after.feed_start_date == date(2026, 11, 17)
    assert (after.target_account_id, after.target_account_name) == ("qbo-35", "Checking (1234)")


def test_ten_days_without_a_pull_disconnect_then_unlink_then_a_pull_relinks(
    client: TestClient, anon_client: TestClient, database: Database, clock: FrozenClock, settings: Settings
) -> None:
    connection, (first, second) = _pending_feed(database, clock, ("acc-1", "acc-2"))
    pair = new_credentials(client, connection)
    headers = idx_headers(*pair)
    for acc in ("acc-1", "acc-2"):
        assert anon_client.get(f"{IDX}/accounts/{acc}/transactions", headers=headers).status_code == 200
    assert reload(database, Connection, connection.id).status == "Linked"

    # acc-1 keeps being pulled every few days; acc-2 is not pulled again.
    for _ in range(3):
        clock.advance(timedelta(days=4))
        anon_client.get(f"{IDX}/accounts/acc-1/transactions", headers=headers)
    clock.set(clock.now().replace(hour=14))  # day 12 after the first pulls, 14:00
    _run_disconnection(database, settings, clock)
    assert reload(database, SourceAccount, second.id).status == "disconnected"
    assert reload(database, SourceAccount, first.id).status == "connected"
    assert reload(database, Connection, connection.id).status == "Linked"
    disconnected = events(database, "bankFeeds.sourceAccount.disconnected")
    assert [e["payload"]["sourceAccount"]["id"] for e in disconnected] == ["acc-2"]

    # Just under ten days since its last pull, acc-1 stays; just over, it goes.
    last_pull = reload(database, SourceAccount, first.id).last_pulled_at
    clock.set(last_pull + timedelta(days=10) - timedelta(seconds=1))
    assert _run_disconnection(database, settings, clock) == 0
    clock.set(last_pull + timedelta(days=10, seconds=1))
    _run_disconnection(database, settings, clock)
    assert reload(database, SourceAccount, first.id).status == "disconnected"
    assert reload(database, Connection, connection.id).status == "Unlinked"
    assert [e["payload"]["connection"]["status"] for e in events(database, "connection.disconnected")] == ["Unlinked"]

    # QuickBooks pulls again with the same credentials: relinked and reconnected.
    clock.advance(timedelta(days=2))
    assert anon_client.get(f"{IDX}/accounts/acc-2/transactions", headers=headers).status_code == 200
    assert reload(database, Connection, connection.id).status == "Linked"
    assert reload(database, SourceAccount, second.id).status == "connected"
    assert len(events(database, "connection.reconnected")) == 1
    assert len(events(database, "bankFeeds.sourceAccount.connected")) == 3
    order = _types(database)
    assert order.index("connection.disconnected") < order.index("connection.reconnected")


def test_the_disconnection_delay_is_configurable(
    client: TestClient, anon_client: TestClient, database: Database, clock: FrozenClock, settings: Settings
) -> None:
    connection, (account,) = _pending_feed(database, clock)
    pair = new_credentials(client, connection)
    anon_client.get(f"{IDX}/accounts/acc-1/transactions", headers=idx_headers(*pair))
    clock.advance(timedelta(days=3, minutes=1))
    _run_disconnection(database, settings, clock)
    assert reload(database, SourceAccount, account.id).status == "connected"
    _run_disconnection(database, settings.model_copy(update={"source_account_disconnect_days": 3}), clock)
    assert reload(database, SourceAccount, account.id).status == "disconnected"
    assert reload(database, Connection, connection.id).status == "Unlinked"


def test_unlinking_revokes_credentials_and_new_ones_relink(
    client: TestClient, anon_client: TestClient, database: Database, clock: FrozenClock
) -> None:
    connection, _ = _pending_feed(database, clock)
    pair = new_credentials(client, connection)
    anon_client.get(f"{IDX}/accounts", headers=idx_headers(*pair))
    r = client.patch(f"/companies/{connection.company_id}/connections/{connection.id}", json={"status": "Unlinked"})
    assert r.status_code == 200 and r.json()["status"] == "Unlinked"
    clock.advance(timedelta(hours=3))
    # The bank gave up access: the platform's next pull with the old pair is refused, nothing relinks.
    assert anon_client.get(f"{IDX}/accounts", headers=idx_headers(*pair)).status_code == 401
    assert reload(database, Connection, connection.id).status == "Unlinked"
    # The user links again with a fresh pair: the connection is reconnected.
    fresh = new_credentials(client, connection)
    assert anon_client.get(f"{IDX}/accounts", headers=idx_headers(*fresh)).status_code == 200
    assert reload(database, Connection, connection.id).status == "Linked"
    assert _types(database).count("connection.reconnected") == 1
    assert _types(database).count("connection.connected") == 1


def test_revoked_credentials_do_not_relink(
    client: TestClient, anon_client: TestClient, database: Database, clock: FrozenClock
) -> None:
    connection, (account,) = _pending_feed(database, clock)
    pair = new_credentials(client, connection)
    client.delete(f"/companies/{connection.company_id}/connections/{connection.id}"
                  "/connectionInfo/bankFeedAccounts/credentials")
    assert anon_client.get(f"{IDX}/accounts/acc-1/transactions", headers=idx_headers(*pair)).status_code == 401
    assert reload(database, Connection, connection.id).status == "PendingAuth"
    assert reload(database, SourceAccount, account.id).status == "pending"
    assert events(database, "bankFeeds.sourceAccount.connected") == []
