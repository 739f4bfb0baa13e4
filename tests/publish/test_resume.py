"""A network cut or a killed run, then a re-run: no transaction lost, none written twice, order kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.publish.client import BankFeedsClient, RetryPolicy
from bankfeeds.publish.runner import Options, Publisher
from bankfeeds.publish.synthetic import write_camt053
from tests.fixtures.app import LiveServer
from tests.fixtures.factories import make_linked_feed
from tests.publish.helpers import publish, sample, stored


class Cut(httpx.BaseTransport):
    """Forwards every request to the live server; on the n-th POST the answer never comes back."""

    def __init__(self, on_post: int, error: BaseException) -> None:
        self.inner = httpx.HTTPTransport()
        self.on_post = on_post
        self.error = error
        self.posts: list[tuple[str, bytes]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method == "POST":
            self.posts.append((request.headers.get("Idempotency-Key", ""), request.read()))
            if len(self.posts) == self.on_post:
                response.read()
                response.close()
                raise self.error
        return response


def _options(server: LiveServer, company: object, connection: object, state: Path) -> Options:
    return Options(server_url=server.url, company=str(company.id), connection=str(connection.id),  # type: ignore[attr-defined]
                   account="acc-1", batch_size=40, state_dir=state, wait_timeout=10)


def _check_complete(database: Database, account: object, written: object) -> None:
    rows = stored(database, account)  # type: ignore[arg-type]
    ids = [r.transaction_id for r in rows]
    assert len(ids) == len(set(ids)) == written.count  # type: ignore[attr-defined]
    dates = [r.date for r in rows]
    assert dates == sorted(dates)
    assert rows[-1].balance == written.closing  # type: ignore[attr-defined]


def test_network_cut_mid_run_retries_with_the_same_key(live_server: LiveServer, api_key: str, database: Database,
                                                       clock: FrozenClock, tmp_path: Path) -> None:
    company, connection, (acc,) = make_linked_feed(database, clock)
    written = write_camt053(tmp_path / "s.xml", 200, days=10)
    cut = Cut(on_post=3, error=httpx.ReadError("connection reset by peer"))
    client = BankFeedsClient(live_server.url, api_key, transport=cut, retry=RetryPolicy(initial=0.01, budget=5))
    result = Publisher(_options(live_server, company, connection, tmp_path / "state"), client).run([str(written.path)])
    assert result.exit_code == 0
    assert sum(f.published for f in result.files) == 200
    # The lost answer was asked again with the same key and the same body, and replayed by the hub.
    assert cut.posts[2] == cut.posts[3]
    assert len(cut.posts) == 6
    _check_complete(database, acc, written)


def test_run_killed_after_the_hub_wrote_then_resumed(live_server: LiveServer, api_key: str, database: Database,
                                                     clock: FrozenClock, tmp_path: Path) -> None:
    company, connection, (acc,) = make_linked_feed(database, clock)
    written = write_camt053(tmp_path / "s.xml", 200, days=10)
    options = _options(live_server, company, connection, tmp_path / "state")
    killed = BankFeedsClient(live_server.url, api_key, transport=Cut(on_post=2, error=KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        Publisher(options, killed).run([str(written.path)])
    assert len(stored(database, acc)) == 80  # the second batch landed; the run never heard of it
    resumed = Publisher(options, BankFeedsClient(live_server.url, api_key)).run([str(written.path)])
    assert resumed.exit_code == 0
    assert resumed.accounts[0].resolved_open == 1
    assert sum(f.published for f in resumed.files) == 120 and sum(f.already_sent for f in resumed.files) == 80
    _check_complete(database, acc, written)


def test_process_killed_at_any_point_then_resumed(live_server: LiveServer, api_key: str, database: Database,
                                                  clock: FrozenClock, tmp_path: Path) -> None:
    company, connection, (acc,) = make_linked_feed(database, clock)
    written = write_camt053(tmp_path / "s.xml", 600, days=20)
    state = tmp_path / "state"
    args = [sys.executable, "-c", "from bankfeeds.cli.main import app; app()", "publish", str(written.path),
            "--company", str(company.id), "--connection", str(connection.id), "--account", "acc-1",
            "--server-url", live_server.url, "--state-dir", str(state), "--batch-size", "10", "--json"]
    env = {**os.environ, "BANKFEEDS_API_KEY": api_key}
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    journal = None
    while time.monotonic() < deadline and proc.poll() is None:
        journal = next(iter(state.glob("*.jsonl")), None)
        if journal is not None and journal.read_text().count('"t":"done"') >= 5:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert journal is not None
    written_before = len(stored(database, acc))
    assert 0 < written_before < 600
    resumed = publish(live_server.url, api_key, company, connection, [str(written.path)], state, "--batch-size", "10")
    assert resumed.exit_code == 0, resumed.output
    assert resumed.data["totals"]["published"] + resumed.data["totals"]["skipped"] == 600
    _check_complete(database, acc, written)


def test_a_push_left_pending_is_checked_again_not_resent(live_server: LiveServer, api_key: str, database: Database,
                                                         clock: FrozenClock, tmp_path: Path) -> None:
    # Xero (gbol) operations stay Pending here: the run stops that account and the next run polls them.
    company, connection, (acc,) = make_linked_feed(database, clock, platform_key="gbol")
    args = (live_server.url, api_key, company, connection, [sample("quickbooks_checking.qbo")], tmp_path)
    first = publish(*args, "--wait", "0.2")
    assert first.exit_code == 3, first.output
    assert first.data["accounts"][0]["pendingPushOperations"] and first.data["totals"]["pending"] == 2
    assert len(stored(database, acc)) == 2  # stored by the hub, waiting for delivery
    again = publish(*args, "--wait", "0.2")
    assert again.exit_code == 3
    assert again.data["accounts"][0]["pendingPushOperations"] == first.data["accounts"][0]["pendingPushOperations"]
    assert "still Pending" in again.data["accounts"][0]["stopped"] and again.data["totals"]["pending"] == 2
    assert len(stored(database, acc)) == 2
