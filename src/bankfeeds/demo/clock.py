"""Demo mode's clock, kept in the database (``demo_clock``) so a restart does not turn it back.

The demo data is dated by the advanced clock: without the stored offset, a restarted demo would
hold transactions "from the future" and QuickBooks' daily pull would skip them.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from bankfeeds.kit.clock import OffsetClock
from bankfeeds.kit.db import Database
from bankfeeds.models import DemoClock

log = logging.getLogger("bankfeeds.demo")
ROW_ID = 1


def stored_offset(database: Database) -> timedelta:
    """The saved offset; zero when there is none (or the table is not migrated yet)."""
    try:
        with database.unit_of_work() as session:
            row = session.get(DemoClock, ROW_ID)
            return timedelta(seconds=row.offset_seconds) if row is not None else timedelta(0)
    except SQLAlchemyError as exc:
        log.warning("demo clock offset not read (%s); starting from the system time", type(exc).__name__)
        return timedelta(0)


def save_offset(database: Database, offset: timedelta) -> None:
    with database.unit_of_work() as session:
        row = session.get(DemoClock, ROW_ID, with_for_update=True)
        seconds = int(offset.total_seconds())
        if row is None:
            session.add(DemoClock(id=ROW_ID, offset_seconds=seconds, updated_at=datetime.now(UTC)))
        else:
            row.offset_seconds = max(row.offset_seconds, seconds)
            row.updated_at = datetime.now(UTC)


def persistent_clock(database: Database) -> OffsetClock:
    """An OffsetClock that starts where the last run left it and stores every advance."""
    return OffsetClock(stored_offset(database), on_advance=lambda offset: save_offset(database, offset))
