"""Delivery knobs of the webhook worker, read from ``BANKFEEDS_WEBHOOKS_*`` variables.

Kept beside the code that uses them; the defaults follow Codat's (Svix's) behaviour.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic_settings import BaseSettings, SettingsConfigDict

# Svix's schedule: the first attempt at once, then each delay after the previous failure.
RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(0),
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
# A 429 or 503 with Retry-After puts the next attempt off until then (if later than the schedule's),
# but never further than this: a hostile header cannot park a message for ever.
RETRY_AFTER_CAP = timedelta(hours=24)
RETRY_AFTER_STATUSES = frozenset({429, 503})
# An endpoint whose every attempt failed for this long is disabled.
DISABLE_AFTER = timedelta(days=5)
# How far back "replay missing messages" may reach.
REPLAY_WINDOW = timedelta(days=14)
# Events (with their messages and attempts) are kept this long, then purged once nothing is pending.
RETENTION = timedelta(days=30)
# A rotated secret keeps signing (as a second signature) for this long.
PREVIOUS_SECRET_TTL = timedelta(hours=24)
# How much of a response body an attempt keeps.
RESPONSE_HEAD_BYTES = 1024
MAX_CONSUMERS = 50


class DeliveryOptions(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BANKFEEDS_WEBHOOKS_", env_file=None, extra="ignore")

    # A 2xx within this many seconds is a success; anything else is retried.
    timeout_seconds: float = 15.0
    # Deliveries in flight at once, per worker process (requests on one event loop).
    concurrency: int = 128
    # Of those, at most this many for one consumer (and never all of them): a slow endpoint
    # cannot hold up the others.
    endpoint_concurrency: int = 64
    # A claimed message is the worker's for this long; the worker renews it while it works, so
    # it only runs out when the worker died. Then another worker takes the message.
    lease_seconds: float = 30.0
    # On shutdown, how long in-flight deliveries may finish before their messages are released.
    grace_seconds: float = 20.0
    # Events fanned out per transaction.
    fanout_batch: int = 200
