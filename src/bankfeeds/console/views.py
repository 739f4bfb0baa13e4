"""What each console page shows, read from the repositories and the services of each resource."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from markupsafe import Markup
from sqlalchemy.orm import Session

from bankfeeds.config import Settings
from bankfeeds.console import charts
from bankfeeds.console.repository import ConsoleRepository
from bankfeeds.errors import NotFound
from bankfeeds.feed_health import service as feed_health
from bankfeeds.feed_health.schemas import CompanyFeedHealth, SourceAccountFeedHealth
from bankfeeds.kit.clock import Clock
from bankfeeds.models import Company, PushOperation, PushOperationStatus

CHART_DAYS = 14
ATTENTION_LIMIT = 25
PUSH_STATUSES = tuple(PushOperationStatus)


@dataclass(frozen=True)
class Chart:
    title: str
    svg: Markup
    legend: list[tuple[str, str, int]]  # label, css class, total over the period


def _day(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _per_day(days: list[date], rows: list[tuple[Any, int]]) -> list[int]:
    by_day: dict[date, int] = {}
    for d, n in rows:
        by_day[_day(d)] = by_day.get(_day(d), 0) + n
    return [by_day.get(d, 0) for d in days]


def overview(session: Session, clock: Clock, settings: Settings, t: Any) -> dict[str, Any]:
    now = clock.now()
    today = now.date()
    days = [today - timedelta(days=i) for i in range(CHART_DAYS - 1, -1, -1)]
    since = datetime.combine(days[0], datetime.min.time(), tzinfo=now.tzinfo)
    repo = ConsoleRepository(session)

    accepted = _per_day(days, repo.accepted_per_day(since))
    pulls = repo.pulls_per_day(since)
    pulled_txns = _per_day(days, [(d, n) for d, _, n in pulls])
    delivered = [a + b for a, b in zip(pulled_txns, _per_day(days, repo.statements_delivered_per_day(since)),
                                       strict=True)]
    pull_counts = _per_day(days, [(d, c) for d, c, _ in pulls])
    failures = _per_day(days, repo.failures_per_day(since))
    attempts = repo.webhook_attempts_per_day(since)
    ok = _per_day(days, [(d, n) for d, s, n in attempts if s])
    failed = _per_day(days, [(d, n) for d, s, n in attempts if not s])

    def chart(title: str, *series: charts.Series) -> Chart:
        return Chart(title, charts.bars(days, series, title), [(s.label, s.css, sum(s.values)) for s in series])

    chart_list = [
        chart(t("Transactions accepted and delivered per day"),
              charts.Series(t("accepted"), accepted, "s1"), charts.Series(t("delivered"), delivered, "s2")),
        chart(t("QuickBooks pulls per day"), charts.Series(t("pulls"), pull_counts, "s3")),
        chart(t("Failed pushes per day"), charts.Series(t("failed"), failures, "s4")),
        chart(t("Webhook deliveries per day"),
              charts.Series(t("delivered"), ok, "s2"), charts.Series(t("failed"), failed, "s4")),
    ]
    return {"charts": chart_list, "attention": attention(session, clock, settings), "days": CHART_DAYS}


@dataclass(frozen=True)
class Attention:
    company: Company
    health: SourceAccountFeedHealth


def attention(session: Session, clock: Clock, settings: Settings) -> list[Attention]:
    now = clock.now()
    quiet = timedelta(days=max(0, settings.source_account_disconnect_days - feed_health.NEAR_DISCONNECTION_DAYS))
    candidates = ConsoleRepository(session).attention_candidates(
        quiet_since=now - quiet, day_ago=now - timedelta(days=1), week_ago=now - timedelta(days=7),
        limit=ATTENTION_LIMIT * 2)
    ctx = feed_health.context(session, clock, settings)
    found = []
    for company, connection, account in candidates:
        health = feed_health.account_health(ctx, company, connection, account)
        if health.needs_attention:
            found.append(Attention(company, health))
    order = {reason: i for i, reason in enumerate(feed_health.ATTENTION_ORDER)}
    found.sort(key=lambda a: (order[a.health.needs_attention[0]], -(a.health.backlog.count)))
    return found[:ATTENTION_LIMIT]


def search(session: Session, text: str) -> list[Company]:
    text = text.strip()[:200]
    if not text:
        return []
    return ConsoleRepository(session).search(text)


def company(session: Session, clock: Clock, settings: Settings, company_id: uuid.UUID) -> tuple[
    Company, CompanyFeedHealth, list[tuple[PushOperation, str]]
]:
    repo = ConsoleRepository(session)
    row = repo.company(company_id)
    if row is None:
        raise NotFound(f"No company was found with ID {company_id}")
    health = feed_health.for_company_row(session, clock, settings, row)
    pushes = repo.pushes(status=None, company_id=row.id, since=None, limit=20)
    return row, health, pushes


def pushes(session: Session, clock: Clock, status: str | None, company_id: str | None,
           days: int) -> list[tuple[PushOperation, str]]:
    key = None
    if company_id:
        try:
            key = uuid.UUID(company_id.strip())
        except ValueError:
            return []
    return ConsoleRepository(session).pushes(
        status=status if status in PUSH_STATUSES else None, company_id=key,
        since=clock.now() - timedelta(days=days), limit=200)
