"""The command as people and scripts use it: dry run, exit codes, JSON, account selection, the summary."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from typer.testing import CliRunner

from bankfeeds.cli.main import app as cli
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from tests.fixtures.app import LiveServer
from tests.fixtures.factories import make_linked_feed, make_source_account
from tests.publish.helpers import publish, sample, stored

EUR = "DE89370400440532013000"
GBP = "GB33BUKB20201555555555"


def test_dry_run_shows_the_batches_and_sends_nothing(live_server: LiveServer, api_key: str, database: Database,
                                                     clock: FrozenClock, tmp_path: Path) -> None:
    company, connection, (acc,) = make_linked_feed(database, clock)
    state = tmp_path / "state"
    run = publish(live_server.url, "", company, connection, [sample("mt940_two_days.sta")], state,
                  "--dry-run", "--batch-size", "2")
    assert run.exit_code == 0, run.output
    assert run.data["dryRun"] is True and run.data["files"][0]["toSend"] == 5
    batches = run.data["accounts"][0]["batches"]
    assert [b["count"] for b in batches] == [2, 2, 1]
    assert batches[0]["transactions"][0]["date"] == "2026-11-07" and batches[-1]["closingBalance"] == Decimal("6177.45")
    assert stored(database, acc) == [] and not state.exists()
    human = CliRunner().invoke(cli, ["publish", sample("mt940_two_days.sta"), "--company", str(company.id),
                                     "--connection", str(connection.id), "--account", "acc-1", "--dry-run",
                                     "--state-dir", str(state)], env={"BANKFEEDS_API_KEY": "", "COLUMNS": "200"})
    assert human.exit_code == 0
    assert "dry run: nothing sent" in human.stdout and "batches for source account acc-1" in human.stdout
    assert "Invoice 4711 car repair" in human.stdout
    real = publish(live_server.url, api_key, company, connection, [sample("mt940_two_days.sta")], state)
    assert real.exit_code == 0 and len(stored(database, acc)) == 5


def test_summary_table_for_people(live_server: LiveServer, api_key: str, database: Database, clock: FrozenClock,
                                  tmp_path: Path) -> None:
    company, connection, _ = make_linked_feed(database, clock)
    args = ["publish", sample("ofx102_checking.ofx"), "--company", str(company.id), "--connection", str(connection.id),
            "--account", "acc-1", "--server-url", live_server.url, "--state-dir", str(tmp_path)]
    first = CliRunner().invoke(cli, args, env={"BANKFEEDS_API_KEY": api_key, "COLUMNS": "200"})
    assert first.exit_code == 0, first.output
    assert "published" in first.stdout and "ofx102_checking.ofx" in first.stdout
    second = CliRunner().invoke(cli, args, env={"BANKFEEDS_API_KEY": api_key, "COLUMNS": "200"})
    row = next(line for line in second.stdout.splitlines() if "ofx102_checking.ofx" in line)
    assert [c.strip() for c in row.split("│") if c.strip()][1:] == ["ofx", "3", "3", "0", "0", "0", "0"]


def test_partial_failure_reports_each_transaction(live_server: LiveServer, api_key: str, database: Database,
                                                  clock: FrozenClock, tmp_path: Path) -> None:
    company, connection, (eur,) = make_linked_feed(database, clock)
    make_source_account(database, clock, connection, "acc-gbp", status="pending")
    run = publish(live_server.url, api_key, company, connection, [sample("camt053_two_accounts.xml")], tmp_path,
                  "--map", f"{EUR}=acc-1", "--map", f"{GBP}=acc-gbp", account=None)
    assert run.exit_code == 1, run.output
    assert run.data["totals"] == {"read": 7, "skipped": 0, "published": 5, "failed": 2, "pending": 0, "notSent": 0}
    failures = run.data["failures"]
    assert {f["line"] for f in failures} == {260, 271} and all(f["account"] == "acc-gbp" for f in failures)
    assert all("pending" in f["message"] for f in failures)
    assert len(stored(database, eur)) == 5


def test_failure_when_nothing_can_be_published(live_server: LiveServer, api_key: str, database: Database,
                                               clock: FrozenClock, tmp_path: Path) -> None:
    company, connection, _ = make_linked_feed(database, clock)
    bad_key = publish(live_server.url, "not-a-key", company, connection, [sample("quicken_savings.qfx")], tmp_path)
    assert bad_key.exit_code == 3 and "401" in bad_key.data["fatal"]
    unknown = publish(live_server.url, api_key, company, connection, [sample("quicken_savings.qfx")], tmp_path,
                      account="no-such-account")
    # One error, up front, naming the accounts there are: no batch was sent to be refused.
    assert unknown.exit_code == 3 and "no source account 'no-such-account'" in unknown.data["fatal"]
    assert "acc-1" in unknown.data["fatal"] and unknown.data["accounts"][0]["stopped"].startswith("not attempted")
    assert unknown.data["totals"]["published"] == 0


def test_several_accounts_need_a_choice(live_server: LiveServer, api_key: str, database: Database, clock: FrozenClock,
                                        tmp_path: Path) -> None:
    company, connection, (acc,) = make_linked_feed(database, clock)
    run = publish(live_server.url, api_key, company, connection, [sample("camt053_two_accounts.xml")], tmp_path)
    assert run.exit_code == 2
    message = run.data["files"][0]["error"]["message"]
    assert EUR in message and GBP in message and "--file-account" in message
    assert stored(database, acc) == []
    picked = publish(live_server.url, api_key, company, connection, [sample("camt053_two_accounts.xml")], tmp_path,
                     "--file-account", GBP)
    assert picked.exit_code == 0 and picked.data["files"][0]["unselectedAccounts"] == [EUR]
    assert [r.amount for r in stored(database, acc)] == [Decimal("45.10"), Decimal("-145.10")]


def test_usage_errors_are_bad_input(tmp_path: Path) -> None:
    base = ["publish", sample("quicken_savings.qfx"), "--company", "c", "--connection", "n"]
    assert CliRunner().invoke(cli, base, env={"BANKFEEDS_API_KEY": "k"}).exit_code == 2
    no_key = CliRunner().invoke(cli, [*base, "--account", "a", "--state-dir", str(tmp_path)],
                                env={"BANKFEEDS_API_KEY": ""})
    assert no_key.exit_code == 2 and "BANKFEEDS_API_KEY" in no_key.output
    assert CliRunner().invoke(cli, [*base, "--account", "a", "--format", "pdf"]).exit_code == 2


def test_mapping_file_sends_each_account_to_its_own(live_server: LiveServer, api_key: str, database: Database,
                                                    clock: FrozenClock, tmp_path: Path) -> None:
    company, connection, (eur, gbp) = make_linked_feed(database, clock, accounts=("acc-eur", "acc-gbp"))
    mapping = tmp_path / "accounts.map"
    mapping.write_text(f"# file account = source account\n{EUR} = acc-eur\n{GBP},acc-gbp\n")
    run = publish(live_server.url, api_key, company, connection, [sample("camt053_two_accounts.xml")],
                  tmp_path / "state", "--map-file", str(mapping), account=None)
    assert run.exit_code == 0, run.output
    assert run.data["files"][0]["accounts"] == {EUR: "acc-eur", GBP: "acc-gbp"}
    assert (len(stored(database, eur)), len(stored(database, gbp))) == (5, 2)


def _human(live_server: LiveServer, api_key: str, company: object, connection: object, files: list[str],
           state: Path, *extra: str) -> str:
    args = ["publish", *files, "--company", str(company.id), "--connection", str(connection.id),  # type: ignore[attr-defined]
            "--server-url", live_server.url, "--state-dir", str(state), *extra]
    run = CliRunner().invoke(cli, args, env={"BANKFEEDS_API_KEY": api_key, "COLUMNS": "200"})
    return run.stdout


def test_dry_run_total_is_what_would_be_sent(live_server: LiveServer, api_key: str, database: Database,
                                             clock: FrozenClock, tmp_path: Path) -> None:
    company, connection, _ = make_linked_feed(database, clock)
    out = _human(live_server, "", company, connection, [sample("mt940_two_days.sta")], tmp_path,
                 "--account", "acc-1", "--dry-run")
    cells = lambda line: [c.strip() for c in line.replace("┃", "│").strip().strip("│").split("│")]  # noqa: E731
    header = cells(next(line for line in out.splitlines() if "would send" in line))
    row = cells(next(line for line in out.splitlines() if "mt940_two_days.sta" in line))
    total = cells(next(line for line in out.splitlines() if line.strip("│ ").startswith("total")))
    column = header.index("would send")
    assert row[column] == "5" and total[column] == "5", out


def test_one_error_per_cause(live_server: LiveServer, api_key: str, database: Database, clock: FrozenClock,
                             tmp_path: Path) -> None:
    company, connection, _ = make_linked_feed(database, clock)
    make_source_account(database, clock, connection, "acc-gbp", status="pending")
    out = _human(live_server, api_key, company, connection, [sample("camt053_two_accounts.xml")], tmp_path / "a",
                 "--map", f"{EUR}=acc-1", "--map", f"{GBP}=acc-gbp")
    failed = [line for line in out.splitlines() if line.startswith("failed:")]
    # Two transactions refused for one reason: one line, naming both, the reason said once.
    assert len(failed) == 1 and "2 transactions for account acc-gbp" in failed[0], out
    reason = failed[0].split(": ", 2)[-1]
    assert out.count(reason) == 1, out

    out = _human(live_server, api_key, company, connection, [sample("quicken_savings.qfx")], tmp_path / "b",
                 "--account", "no-such-account")
    errors = [line for line in out.splitlines() if line.startswith(("error:", "failed:", "account "))]
    assert errors == [next(line for line in errors if line.startswith("error:"))], out
    assert "no source account 'no-such-account'" in errors[0] and "acc-1" in out


def test_help_says_how_to_give_the_api_key() -> None:
    run = CliRunner().invoke(cli, ["publish", "--help"], env={"COLUMNS": "200"})
    assert run.exit_code == 0 and "BANKFEEDS_API_KEY" in run.stdout and "bankFeedAccounts" in run.stdout
