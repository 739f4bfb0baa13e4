"""`bankfeeds sandbox`: the sandbox on its own port and database, pointed at a hub's URL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select
from typer.testing import CliRunner

from bankfeeds.cli.main import app as cli
from bankfeeds.kit import migrate
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.models import SandboxFeed
from bankfeeds.sandbox import seed, service
from bankfeeds.sandbox.app import create_sandbox_app
from bankfeeds.sandbox.directory import Directory, Institution, idx_url_for
from tests.fixtures.app import LiveServer
from tests.sandbox import flows
from tests.sandbox.live_hub import Hub, checking


def test_standalone_sandbox_links_a_feed_on_a_hub_over_http(hub: Hub, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sandbox.sqlite3'}"
    migrate.upgrade(url, demo=True)  # the sandbox's own database
    database = Database(url)
    clock = FrozenClock(hub.clock.now())
    directory = Directory([Institution("Test Bank", idx_url_for(hub.url), hub.settings.idx_partner_key)])
    sb = service.Sandbox(database=database, clock=clock, directory=directory,
                         vault=service.credentials_vault("standalone-secret"), demo=True)
    with database.unit_of_work() as session:
        seed.seed(session, clock)
    app = create_sandbox_app(sb, "standalone-secret", poll_seconds=None)
    company_id, connection_id = hub.feed([checking("chk-1")])
    username, password = hub.credentials(company_id, connection_id)
    try:
        with LiveServer(app) as server, httpx.Client(base_url=server.url, follow_redirects=False) as browser:
            assert browser.get("/").headers["location"] == "/sandbox/qbo"
            assert browser.get("/sandbox/qbo/elsewhere").status_code == 404
            cid = flows.company_id(browser, database)
            r = flows.link(browser, cid, username, password, {"chk-1": "new"}, clock.now().date())
            assert r.status_code == 303
            hub.push(company_id, connection_id, "chk-1", [("s1", hub.clock.now().date(), "3.00", "1003.00")])
            clock.advance(timedelta(days=1))
            assert service.pull_due(sb) == 1  # what the standalone daily puller runs
            assert flows.review_ids(browser, cid) == ["s1"]
        assert hub.get(f"/companies/{company_id}/connections/{connection_id}")["status"] == "Linked"
        with hub.database.unit_of_work() as session:  # the hub's database holds no sandbox rows
            assert session.scalar(select(func.count()).select_from(SandboxFeed)) == 0
    finally:
        database.dispose()


def test_the_cli_checks_its_options() -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["sandbox", "qbo", "--help"])
    assert result.exit_code == 0 and "--hub-url" in result.output and "--partner-key" in result.output
    bad = runner.invoke(cli, ["sandbox", "qbo", "--hub-url", "ftp://hub", "--partner-key", "k"])
    assert bad.exit_code != 0 and "http" in bad.output
