"""linkUrl one-time passwords are signed, not stored: reading a connection writes nothing, and each
password opens its own connection's link once, until it expires, under the current or the
previous secret key. Links handed out before (a stored OTP row) still open once."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bankfeeds.app import create_app
from bankfeeds.connections import otp as signed_otp
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Base, Database
from bankfeeds.kit.security import keyed_hash
from bankfeeds.models import LinkOtp, LinkOtpRedemption
from tests.fixtures.app import make_settings
from tests.fixtures.concurrency import at_once
from tests.fixtures.factories import make_company
from tests.link.test_pages import fresh_link, link_url, path_of


def _otp(url: str) -> str:
    return urlsplit(url).query.split("otp=", 1)[1]


def _row_counts(database: Database) -> dict[str, int]:
    with database.unit_of_work() as s:
        return {t.name: int(s.scalar(select(func.count()).select_from(t)) or 0) for t in Base.metadata.sorted_tables}


@contextmanager
def _browser(database: Database, clock: FrozenClock, db_url: str, **settings: object) -> Iterator[TestClient]:
    app = create_app(make_settings(db_url, **settings), clock=clock, database=database, run_worker=False)
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as browser:
        yield browser


def test_reading_connections_writes_nothing_and_each_read_gives_a_new_password(
    client: TestClient, database: Database, clock: FrozenClock
) -> None:
    company = make_company(database, clock)
    _, body = link_url(client, str(company.id))
    before = _row_counts(database)
    urls = [client.get(f"/companies/{company.id}/connections/{body['id']}").json()["linkUrl"] for _ in range(3)]
    urls.append(client.get(f"/companies/{company.id}/connections").json()["results"][0]["linkUrl"])
    after = _row_counts(database)
    # API keys keep their "last used" minute (an update, no row added): nothing else moves.
    assert after == before
    otps = [_otp(url) for url in urls]
    assert len(set(otps)) == 4
    assert all(len(otp) == signed_otp.LENGTH and otp.isalnum() and otp.isupper() for otp in otps)


def test_a_redeemed_password_is_kept_by_its_hash_until_it_would_expire(
    client: TestClient, browser: TestClient, database: Database, clock: FrozenClock
) -> None:
    url, connection_id = fresh_link(client, database, clock)
    assert browser.get(path_of(url)).status_code == 303
    otp = _otp(url)
    with database.unit_of_work() as s:
        [row] = s.scalars(select(LinkOtpRedemption)).all()
        assert row.otp_hash == signed_otp.redemption_key(otp) and otp not in row.otp_hash
        assert str(row.connection_id) == connection_id
        assert row.expires_at == clock.now() + timedelta(minutes=60)
    # The next redemption of the connection, after that hour, drops it.
    clock.advance(timedelta(minutes=61))
    company_id = urlsplit(url).path.split("/")[3]
    url2 = client.get(f"/companies/{company_id}/connections/{connection_id}").json()["linkUrl"]
    with TestClient(browser.app, raise_server_exceptions=False, follow_redirects=False) as other:
        assert other.get(path_of(url2)).status_code == 303
    with database.unit_of_work() as s:
        assert [r.otp_hash for r in s.scalars(select(LinkOtpRedemption))] == [signed_otp.redemption_key(_otp(url2))]


def test_a_changed_character_or_another_connection_is_refused(
    client: TestClient, browser: TestClient, database: Database, clock: FrozenClock
) -> None:
    url_a, _ = fresh_link(client, database, clock)
    url_b, connection_b = fresh_link(client, database, clock)
    otp = _otp(url_a)
    flipped = otp[:-1] + ("A" if otp[-1] != "A" else "B")
    tampered_expiry = ("Z" if otp[0] != "Z" else "Y") + otp[1:]
    path_a = urlsplit(url_a).path
    company_b = urlsplit(url_b).path.split("/")[3]
    for path in (f"{path_a}?otp={flipped}", f"{path_a}?otp={tampered_expiry}",
                 f"/link/companies/{company_b}/connections/{connection_b}/start?otp={otp}"):
        r = browser.get(path)
        assert r.status_code == 401 and "This link has expired" in r.text, path
    assert browser.get(path_of(url_a)).status_code == 303


def test_a_password_signed_for_a_connection_of_another_company_is_refused(
    client: TestClient, browser: TestClient, database: Database, clock: FrozenClock
) -> None:
    url, connection_id = fresh_link(client, database, clock)
    other = make_company(database, clock, "Other")
    r = browser.get(f"/link/companies/{other.id}/connections/{connection_id}/start?otp={_otp(url)}")
    assert r.status_code == 401
    with database.unit_of_work() as s:
        assert s.scalars(select(LinkOtpRedemption)).all() == []


def test_after_a_key_rotation_old_links_open_until_the_old_key_is_dropped(
    client: TestClient, database: Database, clock: FrozenClock, db_url: str
) -> None:
    url, _ = fresh_link(client, database, clock)  # signed with test-secret-key
    url2, _ = fresh_link(client, database, clock)
    with _browser(database, clock, db_url, secret_key="new-key") as dropped:
        assert dropped.get(path_of(url)).status_code == 401
    with _browser(database, clock, db_url, secret_key="new-key", secret_key_previous="test-secret-key") as rotated:
        assert rotated.get(path_of(url)).status_code == 303
    # A redemption is the same under any key: the rotated server does not open it twice.
    with _browser(database, clock, db_url, secret_key="test-secret-key") as old:
        assert old.get(path_of(url)).status_code == 401
        assert old.get(path_of(url2)).status_code == 303


def test_a_link_handed_out_before_signed_passwords_opens_once(
    client: TestClient, browser: TestClient, database: Database, clock: FrozenClock
) -> None:
    url, connection_id = fresh_link(client, database, clock)
    legacy = "K7Q2XM"
    with database.unit_of_work() as s:
        s.add(LinkOtp(connection_id=uuid.UUID(connection_id), created_at=clock.now(),
                      otp_hash=keyed_hash("test-secret-key", legacy, purpose="link-otp"),
                      expires_at=clock.now() + timedelta(minutes=60)))
    path = f"{urlsplit(url).path}?otp={legacy.lower()}"
    assert browser.get(path).status_code == 303
    with TestClient(browser.app, raise_server_exceptions=False, follow_redirects=False) as other:
        assert other.get(path).status_code == 401
    with database.unit_of_work() as s:
        assert s.scalars(select(LinkOtp)).all() == []


@pytest.mark.committed_database
def test_four_browsers_redeeming_one_password_at_once_get_one_session(
    client: TestClient, database: Database, clock: FrozenClock, db_url: str
) -> None:
    url, _ = fresh_link(client, database, clock)
    with ExitStack() as stack:
        browsers = [stack.enter_context(_browser(database, clock, db_url)) for _ in range(4)]

        def redeem(browser: TestClient) -> Callable[[], int]:
            return lambda: browser.get(path_of(url)).status_code

        statuses = at_once(*(redeem(browser) for browser in browsers))
    assert sorted(statuses) == [303, 401, 401, 401]
    with database.unit_of_work() as s:
        assert len(s.scalars(select(LinkOtpRedemption)).all()) == 1
