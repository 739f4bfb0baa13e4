"""Background work of source accounts: QuickBooks accounts nobody pulls any more turn disconnected.

QuickBooks Online pulls each connected account over the IDX API (daily, or when the user presses
Update). When the SMB disconnects the account inside QuickBooks the pulls stop, and about ten
days later Codat marks the source account ``disconnected`` (then, once every account of the
connection is disconnected, the connection ``Unlinked``). Here "nobody pulled it for
``settings.source_account_disconnect_days`` days" (counted from the connection time when it was
never pulled) is that signal.
"""

from __future__ import annotations

from datetime import timedelta

from bankfeeds.platforms import PLATFORMS
from bankfeeds.source_accounts import service
from bankfeeds.source_accounts.repository import SourceAccountRepository
from bankfeeds.worker.task import TaskContext, task

# Accounts handled per transaction; the worker calls again while a batch comes back full.
BATCH_SIZE = 100


@task()
def disconnect_stale(ctx: TaskContext) -> int:
    """One bounded batch of stale connected QuickBooks accounts, disconnected; returns how many."""
    cutoff = ctx.clock.now() - timedelta(days=ctx.settings.source_account_disconnect_days)
    keys = [key for key, platform in PLATFORMS.items() if platform.pulls_over_idx]
    with ctx.database.unit_of_work() as session:
        claimed = SourceAccountRepository(session).claim_stale(keys, cutoff, BATCH_SIZE)
        for account, connection in claimed:
            service.mark_disconnected(session, ctx.clock, ctx.settings, connection.company, connection, account)
        return len(claimed)
