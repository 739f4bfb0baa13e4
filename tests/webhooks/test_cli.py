"""``bankfeeds webhooks``: the same consumers and recovery from the command line."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from bankfeeds.cli.main import app
from bankfeeds.config import Settings
from bankfeeds.kit.clock import FrozenClock, SystemClock
from bankfeeds.kit.db import Database
from bankfeeds.worker.runner import Worker
from tests.fixtures.app import cli_runner
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_delivery import Switch, company, messages

# The commands open the database on an engine of their own: what they and the app write must be committed.
pytestmark = pytest.mark.committed_database


@pytest.fixture
def cli(settings: Settings, clock: FrozenClock) -> Iterator[CliRunner]:
    # The CLI runs on the system clock: the app's events must come after the consumers it creates.
    clock.set(SystemClock().now() + timedelta(minutes=1))
    with cli_runner(BANKFEEDS_DATABASE_URL=settings.database_url, BANKFEEDS_SECRET_KEY=settings.secret_key,
                    BANKFEEDS_WEBHOOKS_ALLOW_PRIVATE_TARGETS="true") as runner:
        yield runner


def run(cli: CliRunner, *args: str, code: int = 0) -> str:
    result = cli.invoke(app, ["webhooks", *args])
    assert result.exit_code == code, (args, result.output)
    return result.stdout


def test_add_list_disable_enable_rotate_remove(
    cli: CliRunner, client: TestClient, receiver: Receiver, worker: Worker
) -> None:
    secret = run(cli, "add", receiver.url, "-e", "company.created", "-t", "region:uk").strip().splitlines()[-1]
    assert secret.startswith("whsec_")
    receiver.secret = secret
    [consumer] = client.get("/webhooks").json()["results"]
    assert consumer["eventTypes"] == ["company.created"] and consumer["companyTags"] == ["region:uk"]
    company(client, "Acme", tags={"region": "uk"})
    worker.drain()
    [got] = receiver.snapshot()
    assert got.verified  # the secret the CLI printed verifies with svix

    listing = run(cli, "list")
    assert consumer["id"] in listing and "enabled" in listing
    run(cli, "disable", consumer["id"])
    assert client.get("/webhooks").json()["results"][0]["disabled"] is True
    assert "disabled (manual)" in run(cli, "list")
    run(cli, "enable", consumer["id"])
    assert client.get("/webhooks").json()["results"][0]["disabled"] is False

    new = run(cli, "rotate-secret", consumer["id"]).strip().splitlines()[-1]
    assert new.startswith("whsec_") and new != secret
    receiver.secret = new
    company(client, "Beta", tags={"region": "uk"})
    worker.drain()
    assert all(r.verified for r in receiver.snapshot()) and len(receiver.snapshot()) == 2

    run(cli, "remove", consumer["id"])
    assert client.get("/webhooks").json()["results"] == []
    assert "error:" in cli.invoke(app, ["webhooks", "remove", consumer["id"]]).output


def test_bad_input_is_an_error_not_a_crash(cli: CliRunner) -> None:
    result = cli.invoke(app, ["webhooks", "add", "not-a-url"])
    assert result.exit_code == 1 and "url must be" in result.output
    result = cli.invoke(app, ["webhooks", "add", "https://x.example", "-e", "nope"])
    assert result.exit_code == 1 and "Unknown event type" in result.output
    assert "company.created" in run(cli, "event-types")


def test_messages_attempts_resend_recover_replay(
    cli: CliRunner, client: TestClient, receiver: Receiver, worker: Worker, database: Database
) -> None:
    switch = Switch(up=False)
    receiver.responder = switch
    receiver.secret = run(cli, "add", receiver.url, "-e", "company.created").strip().splitlines()[-1]
    cid = client.get("/webhooks").json()["results"][0]["id"]
    company(client)
    worker.drain()
    [m] = messages(database)
    assert m.id in run(cli, "messages", cid) and "Attempting" in run(cli, "messages", cid, "--status", "Attempting")
    assert "503" in run(cli, "attempts", cid, m.id)
    switch.up = True
    run(cli, "resend", cid, m.id)
    worker.drain()
    assert messages(database)[0].status == "Success"
    assert "0 failed" in run(cli, "recover", cid, "--since", "2026-11-20")
    assert "0 missed" in run(cli, "replay", cid)
    assert cli.invoke(app, ["webhooks", "recover", cid, "--since", "soon"]).exit_code != 0
