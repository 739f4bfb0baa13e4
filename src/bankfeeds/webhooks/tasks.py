"""Background work of webhooks: fan the outbox out into messages, deliver due messages."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bankfeeds.kit.clock import Clock
from bankfeeds.webhooks import service
from bankfeeds.webhooks.config import DeliveryOptions
from bankfeeds.webhooks.delivery import Deliverer
from bankfeeds.webhooks.events import EVENTS_TOPIC, MESSAGES_TOPIC
from bankfeeds.worker.runner import Lane, LaneTask, Task, TaskContext, session_task


def _dispatch_events(session: Session, ctx: TaskContext) -> int:
    return service.dispatch_events(session, ctx.clock, ctx.settings.webhooks_fanout_batch)


dispatch_events = session_task(_dispatch_events)
dispatch_events.__name__ = "dispatch_webhook_events"
dispatch_events.wakes_on = (EVENTS_TOPIC,)  # type: ignore[attr-defined]


def _purge_old_events(session: Session, ctx: TaskContext) -> int:
    return service.purge_old_events(session, ctx.clock)


purge_old_events = session_task(_purge_old_events)
purge_old_events.__name__ = "purge_old_webhook_events"
purge_old_events.poll_seconds = 600.0  # type: ignore[attr-defined]


class DeliverMessages:
    """The delivery lane (see ``webhooks.delivery``): options from the settings unless given (tests
    inject them, and a clock)."""

    __name__ = "deliver_webhook_messages"
    wakes_on = (MESSAGES_TOPIC,)

    def __init__(self, options: DeliveryOptions | None = None, *, wall_clock: Clock | None = None) -> None:
        self.options = options
        self.wall_clock = wall_clock

    def open(self, ctx: TaskContext) -> Lane:
        return Deliverer(ctx.database, ctx.settings, ctx.clock, self.options, wall_clock=self.wall_clock)


TASKS: list[Task | LaneTask] = [dispatch_events, DeliverMessages(), purge_old_events]
