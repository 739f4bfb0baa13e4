"""Throttling of failed logins, stored in the database.

What is counted is chosen so that an attacker cannot lock a customer out:

* IDX logins are counted per (username, address), and only from callers that presented the
  valid partner key (the accounting platform); a wrong partner key never touches a username's
  counter, only its own per-address counter, which no partner call shares.
* Wrong one-time passwords are counted per (connection, address), with a wider cap per
  connection; they block only that link, never another customer's behind the same address.
* The address is the peer's, or, behind a proxy listed in ``BANKFEEDS_FORWARDED_ALLOW_IPS``,
  the one that proxy forwards; a client elsewhere cannot choose it with ``X-Forwarded-For``.

A scope allows ``max_failures`` failures within ``window``; the next one blocks the key for
``block``, during which every attempt (right or wrong) gets 429 with ``Retry-After``. Keys are
keyed hashes, so the table holds neither usernames nor addresses, and an unknown username is
counted exactly like a known one: the answers never tell whether a username exists.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from bankfeeds.config import Settings
from bankfeeds.credentials.repository import ThrottleRepository
from bankfeeds.errors import TooManyRequests
from bankfeeds.kit.clock import Clock
from bankfeeds.kit.security import keyed_hash


@dataclass(frozen=True)
class Policy:
    scope: str
    max_failures: int
    window: timedelta
    block: timedelta


# One username from one address, with the valid partner key: 5 wrong passwords in 15 minutes
# lock that pair (and only it) for 15 minutes.
IDX_USER_ADDRESS = Policy("idx-user-ip", 5, timedelta(minutes=15), timedelta(minutes=15))
# Wrong partner keys from one address (the platform's own calls carry the right one).
IDX_PARTNER_ADDRESS = Policy("idx-partner-ip", 30, timedelta(minutes=15), timedelta(minutes=15))
# Guesses at one linkUrl's one-time password from one address, and from everywhere.
LINK_ADDRESS = Policy("link-conn-ip", 10, timedelta(minutes=15), timedelta(minutes=15))
LINK_CONNECTION = Policy("link-conn", 50, timedelta(minutes=15), timedelta(minutes=15))

_POLICIES = (IDX_USER_ADDRESS, IDX_PARTNER_ADDRESS, LINK_ADDRESS, LINK_CONNECTION)
# Counters older than every window, and blocking nobody, are dropped as failures come in.
_LONGEST_WINDOW = max(p.window for p in _POLICIES)

TOO_MANY = "Too many failed attempts."


@dataclass(frozen=True)
class Subject:
    """What is counted: a policy and the hashed key of one username or address."""

    policy: Policy
    key: str


def subject(settings: Settings, policy: Policy, *parts: str) -> Subject:
    value = "\x1f".join(parts)  # a separator no username, address or id contains
    digest = keyed_hash(settings.secret_key, value, purpose=f"throttle:{policy.scope}")
    return Subject(policy, f"{policy.scope}:{digest}")


def check(session: Session, clock: Clock, subjects: list[Subject]) -> TooManyRequests | None:
    """The 429 to answer if any subject is blocked now, else None."""
    now = clock.now()
    wait = timedelta(0)
    for row in ThrottleRepository(session).get([s.key for s in subjects]):
        if row.blocked_until is not None and row.blocked_until > now:
            wait = max(wait, row.blocked_until - now)
    if wait <= timedelta(0):
        return None
    seconds = max(1, math.ceil(wait.total_seconds()))
    return TooManyRequests(f"{TOO_MANY} Try again in {_plain(seconds)}.", headers={"Retry-After": str(seconds)})


def _plain(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def record_failure(session: Session, clock: Clock, subjects: list[Subject]) -> None:
    """Count one failure against each subject (rows locked in key order: no deadlocks)."""
    now = clock.now()
    repo = ThrottleRepository(session)
    for s in sorted(subjects, key=lambda item: item.key):
        row = repo.locked(s.key, now)
        expired_block = row.blocked_until is not None and row.blocked_until <= now
        if expired_block or now - row.window_started_at >= s.policy.window:
            row.failures = 0
            row.window_started_at = now
            row.blocked_until = None
        row.failures += 1
        if row.failures >= s.policy.max_failures:
            row.blocked_until = now + s.policy.block
    # The session does not autoflush: write the counters first, or the purge below would see a
    # restarted window as stale and delete the row under its pending update.
    session.flush()
    repo.purge(now - _LONGEST_WINDOW, now)


def record_success(session: Session, subjects: list[Subject]) -> None:
    """A right answer clears the counters of its subjects."""
    repo = ThrottleRepository(session)
    for s in subjects:
        repo.forget(s.key)
