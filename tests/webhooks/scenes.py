"""Scenes and acts for the event tests: a scene is the rows a transition needs, an act one transition
made through the services the endpoints, IDX API and tasks call, inside the caller's unit of work.

``scene("Linked", ("acc-1", "connected"))`` makes a company, its hcws connection in that status and
its source accounts; ``company=`` and ``account=`` say how (the payload-shape test gives them every
optional field). Acts find their rows again in their own session, locked as the services expect.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from bankfeeds.companies import service as companies
from bankfeeds.companies.schemas import CompanyRequestBody
from bankfeeds.config import Settings
from bankfeeds.connections import service as connections
from bankfeeds.connections.schemas import ConnectionCreate
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.models import Company, Connection, SourceAccount
from bankfeeds.push_operations import service as push_operations
from bankfeeds.source_accounts import service as source_accounts
from tests.fixtures.factories import make_company, make_connection, make_source_account


@dataclass
class Scene:
    company: Company | None = None
    connection: Connection | None = None
    accounts: list[SourceAccount] = field(default_factory=list)


Setup = Callable[[Database, FrozenClock], Scene]
Act = Callable[[Session, FrozenClock, Settings, Scene], None]
MakeCompany = Callable[[Database, FrozenClock], Company]
# (database, clock, connection, *spec): one source account from one spec tuple given to ``scene``.
MakeAccount = Callable[..., SourceAccount]


def uk_company(database: Database, clock: FrozenClock) -> Company:
    return make_company(database, clock, tags={"region": "uk"})


def plain_account(database: Database, clock: FrozenClock, connection: Connection, account_id: str,
                  status: str) -> SourceAccount:
    return make_source_account(database, clock, connection, account_id, status=status)


def nothing(database: Database, clock: FrozenClock) -> Scene:
    return Scene()


def scene(status: str | None = None, *accounts: tuple[Any, ...], company: MakeCompany = uk_company,
          account: MakeAccount = plain_account) -> Setup:
    """A company; with ``status``, its hcws connection in that status and one source account per
    spec (``account(database, clock, connection, *spec)``)."""

    def setup(database: Database, clock: FrozenClock) -> Scene:
        made = company(database, clock)
        if status is None:
            return Scene(made)
        connection = make_connection(database, clock, made, "hcws", status=status)
        return Scene(made, connection, [account(database, clock, connection, *spec) for spec in accounts])

    return setup


def rows(s: Session, scene: Scene) -> tuple[Company, Connection]:
    assert scene.connection is not None
    company = company_row(s, scene)
    return company, connections.get(s, company, scene.connection.id, for_update=True)


def company_row(s: Session, scene: Scene) -> Company:
    assert scene.company is not None
    return companies.get(s, scene.company.id, for_update=True)


def account_row(s: Session, scene: Scene, i: int = 0) -> SourceAccount:
    account = s.get(SourceAccount, scene.accounts[i].id)
    assert account is not None
    return account


# -- acts ---------------------------------------------------------------------------------------
def company_created(s: Session, clock: FrozenClock, settings: Settings, scene: Scene) -> None:
    scene.company, _ = companies.create(s, clock, settings, CompanyRequestBody(
        name="New Co", tags={"region": "fr"}), created_by="tests")


def company_deleted(s: Session, clock: FrozenClock, settings: Settings, scene: Scene) -> None:
    companies.delete(s, clock, settings, company_row(s, scene))


def connection_created(s: Session, clock: FrozenClock, settings: Settings, scene: Scene) -> None:
    company = company_row(s, scene)
    scene.connection, _ = connections.create(s, clock, settings, company, ConnectionCreate(platform_key="hcws"))


def to_status(status: str) -> Act:
    def act(s: Session, clock: FrozenClock, settings: Settings, scene: Scene) -> None:
        connections.set_status(s, clock, settings, *rows(s, scene), status)

    return act


def connection_failed(s: Session, clock: FrozenClock, settings: Settings, scene: Scene) -> None:
    connections.fail_link(s, clock, settings, *rows(s, scene), status_text="User denied access")


def connection_deleted(s: Session, clock: FrozenClock, settings: Settings, scene: Scene) -> None:
    connections.delete(s, clock, settings, *rows(s, scene))


def account_connected(s: Session, clock: FrozenClock, settings: Settings, scene: Scene) -> None:
    source_accounts.mark_connected(s, clock, settings, *rows(s, scene), account_row(s, scene))


def account_disconnected(s: Session, clock: FrozenClock, settings: Settings, scene: Scene) -> None:
    source_accounts.mark_disconnected(s, clock, settings, *rows(s, scene), account_row(s, scene))


def push(outcome: str, *, taking: timedelta = timedelta(0)) -> Act:
    """A one-transaction push to acc-1 whose outcome (success, failure, timeout) comes ``taking`` later;
    its operation written once with that outcome, as a push writes it."""

    def act(s: Session, clock: FrozenClock, settings: Settings, scene: Scene) -> None:
        company, connection = rows(s, scene)
        op = push_operations.start(s, clock, company_id=company.id, connection_id=connection.id,
                                   source_account_id="acc-1", timeout_in_minutes=None, transaction_count=1)
        clock.advance(taking)
        if outcome == "success":
            push_operations.succeed(s, clock, settings, company, op, "acc-1")
        elif outcome == "failure":
            push_operations.fail(s, clock, settings, company, op, "The platform refused it.")
        else:
            push_operations.time_out(s, clock, settings, company, op)
        push_operations.save(s, op)

    return act
