"""The tasks a worker runs: the hub's, and in demo mode the demo surfaces' too.

A new background job is a ``Task`` in its folder's ``tasks.py`` (``worker.task``), listed here.
"""

from __future__ import annotations

from bankfeeds.worker.task import Task


def hub_tasks() -> list[Task]:
    # Imported when a worker is made, not whenever the CLI or the app starts.
    from bankfeeds.idempotency.tasks import purge_expired_keys
    from bankfeeds.idx.tasks import purge_old_feed_pulls
    from bankfeeds.platforms.gbol.tasks import check_feeds, confirm_feeds, deliver_statements
    from bankfeeds.push_operations.tasks import time_out_pending
    from bankfeeds.source_accounts.tasks import disconnect_stale
    from bankfeeds.webhooks.tasks import deliver_messages, dispatch_events, purge_old_events

    return [
        time_out_pending,
        disconnect_stale,
        dispatch_events,
        deliver_messages(),
        purge_old_events,
        deliver_statements(),
        confirm_feeds(),
        check_feeds(),
        purge_expired_keys,
        purge_old_feed_pulls,
    ]


def demo_tasks() -> list[Task]:
    """The demo surfaces' tasks (the QuickBooks sandbox's daily pull; the Xero sandbox and the demo
    bank have none yet). Their tables exist in demo mode only (on the migrations' demo branch), so
    outside it they are not even imported: hence the import here, not at the top."""
    from bankfeeds.sandbox.tasks import sandbox_daily_pull

    return [sandbox_daily_pull]


def tasks(*, demo: bool = False) -> list[Task]:
    """Every task a worker runs: the hub's, and in demo mode the demo surfaces' too."""
    return hub_tasks() + (demo_tasks() if demo else [])
