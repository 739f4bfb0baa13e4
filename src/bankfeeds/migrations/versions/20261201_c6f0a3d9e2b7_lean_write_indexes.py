"""lean write indexes: fewer B-trees written by every push

Every push writes one ``events`` row and one ``push_operations`` row; each index on them is one
more B-tree written per push (on SQLite one more page in the write-ahead log per commit).

* ``events``: ``ix_events_company_id`` and ``ix_events_event_type`` go (no query reads events by
  either: replays go by ``created_at``); ``ix_events_dispatched_at`` becomes
  ``ix_events_undispatched``, on ``seq`` and holding only the events not fanned out yet, the rows
  the worker looks for, in the order it takes them (an event leaves it when marked).
* ``push_operations``: ``ix_push_operations_pending`` (status, timeout_at) becomes
  ``ix_push_operations_timing_out``, on ``timeout_at`` and holding only the Pending operations
  with a timeout, the rows the timeout sweep looks for (a QuickBooks push completes in its
  request and is never written into it).

Revision ID: c6f0a3d9e2b7
Revises: b1e6d0c4f2a8
Create Date: 2026-12-01 17:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "c6f0a3d9e2b7"
down_revision: str | None = "b1e6d0c4f2a8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNDISPATCHED = "dispatched_at IS NULL"
TIMING_OUT = "status = 'Pending' AND timeout_at IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("events") as batch_op:
        batch_op.drop_index("ix_events_company_id")
        batch_op.drop_index("ix_events_event_type")
        batch_op.drop_index("ix_events_dispatched_at")
    op.create_index("ix_events_undispatched", "events", ["seq"], unique=False,
                    sqlite_where=sa.text(UNDISPATCHED), postgresql_where=sa.text(UNDISPATCHED))
    with op.batch_alter_table("push_operations") as batch_op:
        batch_op.drop_index("ix_push_operations_pending")
    op.create_index("ix_push_operations_timing_out", "push_operations", ["timeout_at"], unique=False,
                    sqlite_where=sa.text(TIMING_OUT), postgresql_where=sa.text(TIMING_OUT))


def downgrade() -> None:
    op.drop_index("ix_push_operations_timing_out", table_name="push_operations")
    with op.batch_alter_table("push_operations") as batch_op:
        batch_op.create_index("ix_push_operations_pending", ["status", "timeout_at"], unique=False)
    op.drop_index("ix_events_undispatched", table_name="events")
    with op.batch_alter_table("events") as batch_op:
        batch_op.create_index("ix_events_dispatched_at", ["dispatched_at"], unique=False)
        batch_op.create_index("ix_events_event_type", ["event_type"], unique=False)
        batch_op.create_index("ix_events_company_id", ["company_id"], unique=False)
