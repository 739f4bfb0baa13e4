"""The console's rules: operators, sign-in, sessions, CSRF, roles and the audit log.

* Passwords are argon2id hashes (argon2-cffi's defaults, RFC 9106's low-memory profile); a hash
  made with older parameters is upgraded at the next sign-in.
* A session is a random token in an HttpOnly, SameSite=Strict cookie scoped to ``/console``; the
  server keeps only its SHA-256, with the operator, a CSRF token, and when it ends: after
  ``SESSION_IDLE`` without a request, or ``SESSION_MAX`` after sign-in, whichever comes first.
* Every form sends the session's CSRF token back (the sign-in form, a cookie-bound one).
* Failed sign-ins are throttled per (username, address) pair, never by username alone, so nobody
  can lock an operator out from elsewhere; one address also has a wider allowance across names.
  The answer never says whether the username exists (an unknown name costs a hash all the same).
* ``viewer`` reads; ``admin`` also acts (resend, replay, API keys). Every admin action, and every
  sign-in and sign-out, is written to ``operator_audit`` in the action's own transaction.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.orm import Session

from bankfeeds.config import Settings
from bankfeeds.console.repository import ConsoleRepository
from bankfeeds.credentials import throttle
from bankfeeds.errors import BadRequest, BankfeedsError, Conflict, Forbidden, NotFound, Unauthorized
from bankfeeds.kit import csrf
from bankfeeds.kit.clock import Clock
from bankfeeds.models import Operator, OperatorAudit, OperatorSession

ROLES = ("viewer", "admin")
SESSION_IDLE = timedelta(minutes=30)
SESSION_MAX = timedelta(hours=8)
MIN_PASSWORD = 12
MAX_PASSWORD = 256
# 5 wrong passwords for one (username, address) pair in 15 minutes block that pair for 15 minutes.
PAIR = throttle.Policy("console-pair", 5, timedelta(minutes=15), timedelta(minutes=15))
# One address guessing across many names.
ADDRESS = throttle.Policy("console-ip", 30, timedelta(minutes=15), timedelta(minutes=15))

_hasher = PasswordHasher()
# Verified against when the username is unknown, so both answers cost the same.
_DUMMY_HASH = _hasher.hash("bankfeeds console: no such operator")


@dataclass(frozen=True)
class Signed:
    operator: Operator
    session: OperatorSession


def normalise_username(raw: str) -> str:
    return raw.strip().lower()


def hash_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise BadRequest(f"A password has {MIN_PASSWORD} to {MAX_PASSWORD} characters.")
    return _hasher.hash(password)


def create_operator(session: Session, clock: Clock, username: str, password: str, role: str) -> Operator:
    name = normalise_username(username)
    if not name or len(name) > 100 or not name.isprintable() or " " in name:
        raise BadRequest("A username is 1 to 100 printable characters, without spaces.")
    if role not in ROLES:
        raise BadRequest(f"The role is one of {', '.join(ROLES)}.")
    repo = ConsoleRepository(session)
    if repo.operator_by_name(name) is not None:
        raise Conflict(f"An operator named {name} already exists.")
    row = Operator(id=uuid.uuid4(), username=name, password_hash=hash_password(password), role=role,
                   created_at=clock.now())
    repo.add(row)
    return row


def list_operators(session: Session) -> list[Operator]:
    return ConsoleRepository(session).operators()


def disable_operator(session: Session, clock: Clock, username: str) -> Operator:
    repo = ConsoleRepository(session)
    row = repo.operator_by_name(normalise_username(username))
    if row is None:
        raise NotFound(f"No operator named {username}.")
    if row.disabled_at is None:
        row.disabled_at = clock.now()
    repo.end_sessions_of(row.id)
    return row


# ---------------------------------------------------------------------------- sign-in


def _subjects(settings: Settings, username: str, address: str) -> list[throttle.Subject]:
    return [throttle.subject(settings, PAIR, f"{username}\n{address}"),
            throttle.subject(settings, ADDRESS, address)]


def _session_id(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def audit(session: Session, clock: Clock, operator: Operator | None, action: str, *, target: str | None = None,
          address: str | None = None, username: str | None = None, **details: Any) -> None:
    ConsoleRepository(session).add(OperatorAudit(
        at=clock.now(), operator_id=operator.id if operator else None,
        username=(operator.username if operator else username or "")[:100], action=action,
        target=target[:200] if target else None, address=(address or "")[:64] or None,
        details={k: v for k, v in details.items() if v is not None}))


def sign_in(
    session: Session, clock: Clock, settings: Settings, username: str, password: str, address: str,
) -> tuple[Signed, str] | BankfeedsError:
    """A new session and its cookie token, or the error to show. Runs in its own transaction, which
    commits failure counts too, so the error is returned rather than raised."""
    name = normalise_username(username)[:100]
    subjects = _subjects(settings, name, address)
    blocked = throttle.check(session, clock, subjects)
    if blocked is not None:
        return blocked
    repo = ConsoleRepository(session)
    operator = repo.operator_by_name(name) if name else None
    ok = False
    try:
        ok = _hasher.verify(operator.password_hash if operator else _DUMMY_HASH, password[:MAX_PASSWORD])
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if not ok or operator is None or operator.disabled_at is not None:
        throttle.record_failure(session, clock, subjects)
        audit(session, clock, None, "sign_in_failed", username=name, address=address)
        return Unauthorized("The username or password is not right, or the account is disabled.")
    throttle.record_success(session, subjects[:1])
    if _hasher.check_needs_rehash(operator.password_hash):
        operator.password_hash = _hasher.hash(password)
    now = clock.now()
    operator.last_login_at = now
    repo.purge_sessions(now)
    token = secrets.token_urlsafe(32)
    row = OperatorSession(id=_session_id(token), operator_id=operator.id, csrf=csrf.new_token(),
                          created_at=now, last_seen_at=now, expires_at=now + SESSION_MAX)
    repo.add(row)
    audit(session, clock, operator, "sign_in", address=address)
    return Signed(operator, row), token


def current(session: Session, clock: Clock, token: str | None) -> Signed:
    """The signed-in operator of this cookie (and the session's idle clock reset), or 401."""
    if not token or len(token) > 200:
        raise Unauthorized("Please sign in.")
    repo = ConsoleRepository(session)
    row = repo.login_session(_session_id(token))
    now = clock.now()
    if row is None:
        raise Unauthorized("Please sign in.")
    if row.expires_at <= now or row.last_seen_at + SESSION_IDLE <= now:
        repo.end_session(row.id)
        raise Unauthorized("Your session has ended; please sign in again.")
    operator = repo.operator(row.operator_id)
    if operator is None or operator.disabled_at is not None:
        repo.end_session(row.id)
        raise Unauthorized("Please sign in.")
    row.last_seen_at = now
    return Signed(operator, row)


def peek(session: Session, clock: Clock, token: str | None) -> Signed | None:
    """The signed-in operator of this cookie, if any, changing nothing (for error pages)."""
    if not token or len(token) > 200:
        return None
    repo = ConsoleRepository(session)
    row = repo.login_session(_session_id(token))
    now = clock.now()
    if row is None or row.expires_at <= now or row.last_seen_at + SESSION_IDLE <= now:
        return None
    operator = repo.operator(row.operator_id)
    return None if operator is None or operator.disabled_at is not None else Signed(operator, row)


def sign_out(session: Session, clock: Clock, signed: Signed, address: str) -> None:
    ConsoleRepository(session).end_session(signed.session.id)
    audit(session, clock, signed.operator, "sign_out", address=address)


def check_csrf(signed: Signed, sent: str | None) -> None:
    csrf.require(signed.session.csrf, sent, "This form has expired; go back, reload the page and try again.")


def require_admin(signed: Signed) -> None:
    if signed.operator.role != "admin":
        raise Forbidden("Only an administrator can do this. Ask an administrator of the console.")


def audit_log(session: Session) -> list[OperatorAudit]:
    return ConsoleRepository(session).audit()
