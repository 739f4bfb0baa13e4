"""kit.http.retry_after: the one reading of a Retry-After header (webhook delivery, Xero)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bankfeeds.kit.http import retry_after

NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.mark.parametrize(("raw", "wait"), [
    ("120", timedelta(seconds=120)),
    (" 0 ", timedelta(0)),
    ("86401", DAY),  # capped
    ("9" * 400, DAY),  # absurd: capped, no overflow
    ("Tue, 24 Nov 2026 15:10:00 GMT", timedelta(minutes=10)),
    ("Tue, 24 Nov 2026 14:00:00 GMT", timedelta(0)),  # in the past: no wait
    ("Fri, 31 Dec 9999 23:59:59 GMT", DAY),
    (None, None), ("", None), ("soon", None), ("-5", None), ("1.5", None), ("١٢", None),  # Arabic-Indic digits
    ("Tue, 99 Nov 2026 15:10:00 GMT", None),
])
def test_retry_after(raw: str | None, wait: timedelta | None) -> None:
    assert retry_after(raw, wall_now=NOW, limit=DAY) == wait
