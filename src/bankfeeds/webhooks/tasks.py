"""Background work of webhooks: fan the outbox out into messages, deliver due messages."""

from __future__ import annotations

from bankfeeds.kit.clock import Clock
from bankfeeds.webhooks import service
from bankfeeds.webhooks.config import DeliveryOptions
from bankfeeds.webhooks.delivery import Deliverer
from bankfeeds.webhooks.events import EVENTS_TOPIC, MESSAGES_TOPIC
from bankfeeds.worker.task import Lane, Task, TaskContext, task


# A push per card swipe records an event each: the lane runs again at once only after a full batch
# (else a transaction per push or two); a commit with an event someone subscribes to wakes it.
@task(name="dispatch_webhook_events", wakes_on=(EVENTS_TOPIC,),
      batch_size=lambda ctx: ctx.settings.webhooks_fanout_batch)
def dispatch_events(ctx: TaskContext) -> int:
    with ctx.database.unit_of_work() as session:
        return service.dispatch_events(session, ctx.clock, ctx.settings.webhooks_fanout_batch)


@task(name="purge_old_webhook_events", poll_seconds=600.0)
def purge_old_events(ctx: TaskContext) -> int:
    with ctx.database.unit_of_work() as session:
        return service.purge_old_events(session, ctx.clock)


def deliver_messages(options: DeliveryOptions | None = None, *, wall_clock: Clock | None = None) -> Task:
    """The delivery lane (see ``webhooks.delivery``): options from the settings unless given (tests
    inject them, and a clock)."""

    def open_lane(ctx: TaskContext) -> Lane:
        return Deliverer(ctx.database, ctx.settings, ctx.clock, options, wall_clock=wall_clock)

    return Task("deliver_webhook_messages", open_lane, wakes_on=(MESSAGES_TOPIC,))
