"""metrics.on_commit: what a transaction counts is counted once it commits, never if it rolls back."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from bankfeeds.kit.db import Database
from bankfeeds.observability import metrics


def test_actions_run_once_after_commit_and_never_after_rollback(database: Database) -> None:
    ran: list[str] = []
    with database.unit_of_work() as session:
        metrics.on_commit(session, lambda: ran.append("committed"))
        metrics.on_commit(session, lambda: ran.append("also committed"))
        assert ran == []
    assert ran == ["committed", "also committed"]
    with pytest.raises(RuntimeError), database.unit_of_work() as session:
        metrics.on_commit(session, lambda: ran.append("rolled back"))
        raise RuntimeError("the request failed")
    session = database.sessions()
    try:
        session.execute(text("SELECT 1"))
        metrics.on_commit(session, lambda: ran.append("rolled back, then the session committed other work"))
        session.rollback()
        session.commit()
        session.commit()
    finally:
        session.close()
    assert ran == ["committed", "also committed"]
