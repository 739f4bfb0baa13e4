"""Revision c6f0a3d9e2b7: the outbox and push operations keep only the indexes something reads.

Upgrading a database of the release before it keeps its rows; the worker's and the timeout sweep's
queries find their rows through the new partial indexes (the plan says so: a partial index is only
used when the query states its condition, which is why they say it as a literal); the revision
goes back down cleanly.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

from alembic import command
from sqlalchemy import func, inspect, select, text
from sqlalchemy.orm import Session

from bankfeeds.kit import migrate
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.models import Event, PushOperation
from bankfeeds.models.push_operation import TIMING_OUT
from bankfeeds.push_operations.repository import PushOperationRepository
from bankfeeds.webhooks.repository import WebhookRepository
from tests.deploy.helpers import empty_database
from tests.fixtures.app import NOW
from tests.fixtures.factories import make_company

BEFORE = "b1e6d0c4f2a8"
REVISION = "c6f0a3d9e2b7"


def indexes(db: Database, table: str) -> set[str]:
    with db.engine.connect() as conn:
        return {i["name"] for i in inspect(conn).get_indexes(table) if i["name"]}


def plan(session: Session, sql: str, params: dict[str, object]) -> str:
    if session.get_bind().dialect.name == "sqlite":
        rows = session.execute(text(f"EXPLAIN QUERY PLAN {sql}"), params).all()
        return " ".join(str(r[-1]) for r in rows)
    session.execute(text("SET LOCAL enable_seqscan = off"))  # a tiny table: say what an index can do
    return " ".join(str(r[0]) for r in session.execute(text(f"EXPLAIN {sql}"), params).all())


def test_upgrade_keeps_rows_and_the_sweeps_use_the_partial_indexes(db_kind: str, tmp_path: Path) -> None:
    with empty_database(db_kind, tmp_path) as url:
        migrate.upgrade(url, BEFORE, demo=False)
        db = Database(url)
        try:
            assert {"ix_events_company_id", "ix_events_event_type", "ix_events_dispatched_at"} <= indexes(db, "events")
            company = make_company(db, FrozenClock(NOW), "Bakery").id
            with db.unit_of_work() as s:
                s.add(Event(id=uuid.uuid4(), event_type="x", company_id=None, company_tags={}, body={},
                            created_at=NOW))
                s.add(PushOperation(company_id=company, connection_id=uuid.uuid4(), source_account_id="a",
                                    data_type="bankTransactions", status="Pending", status_code=202,
                                    requested_at=NOW, timeout_at=NOW + timedelta(minutes=1), validation={},
                                    transaction_count=1))

            assert migrate.upgrade(url, demo=False).migrated
            assert indexes(db, "events") == {"ix_events_created_at", "ix_events_undispatched"} | (
                indexes(db, "events") & {"events_id_key", "uq_events_id"})
            assert "ix_push_operations_timing_out" in indexes(db, "push_operations")
            assert "ix_push_operations_pending" not in indexes(db, "push_operations")

            with db.unit_of_work() as s:
                # The rows written before the upgrade are found by the queries the new indexes serve.
                assert [e.event_type for e in WebhookRepository(s).undispatched_events(10)] == ["x"]
                timed_out = PushOperationRepository(s).claim_timed_out(NOW + timedelta(minutes=2), 10)
                assert [op.source_account_id for op in timed_out] == ["a"]
                assert PushOperationRepository(s).claim_timed_out(NOW, 10) == []

                # The sweep's condition, in the words the repository uses (TIMING_OUT), and the outbox's.
                sweep = f"SELECT key FROM push_operations WHERE {TIMING_OUT} AND timeout_at <= :now"
                assert "ix_push_operations_timing_out" in plan(s, sweep, {"now": "2030-01-01 00:00:00"})
                outbox = "SELECT seq FROM events WHERE dispatched_at IS NULL ORDER BY seq LIMIT 10"
                assert "ix_events_undispatched" in plan(s, outbox, {})
                assert s.scalar(select(func.count()).select_from(Event)) == 1

            command.downgrade(migrate.alembic_config(url), BEFORE)
            assert {"ix_events_company_id", "ix_events_event_type", "ix_events_dispatched_at"} <= indexes(db, "events")
            assert "ix_push_operations_pending" in indexes(db, "push_operations")
            with db.unit_of_work() as s:
                assert s.scalar(select(func.count()).select_from(PushOperation)) == 1
        finally:
            db.dispose()
