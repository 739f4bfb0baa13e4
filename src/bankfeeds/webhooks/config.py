"""Webhook delivery's fixed rules, and its knobs as the delivery lane takes them.

The knobs are settings (``BANKFEEDS_WEBHOOKS_*``, fields of ``config.Settings``); the rules here
follow Codat's (Svix's) behaviour.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bankfeeds.config import Settings

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


@dataclass(frozen=True)
class DeliveryOptions:
    """The delivery lane's knobs: the settings' ``webhooks_*`` fields (what each means is there)."""

    timeout_seconds: float
    concurrency: int
    endpoint_concurrency: int
    lease_seconds: float
    grace_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> DeliveryOptions:
        """The settings' values, with ``overrides`` (by field name) in their place (tests, benchmarks)."""
        options = cls(
            timeout_seconds=settings.webhooks_timeout_seconds,
            concurrency=settings.webhooks_concurrency,
            endpoint_concurrency=settings.webhooks_endpoint_concurrency,
            lease_seconds=settings.webhooks_lease_seconds,
            grace_seconds=settings.webhooks_grace_seconds,
        )
        return dataclasses.replace(options, **overrides)
