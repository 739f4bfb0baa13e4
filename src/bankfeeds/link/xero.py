"""The hosted pages of a Xero (``gbol``) connection, under ``/link``.

* ``GET .../connections/{connectionId}/xero``: what will be shared, and "Connect to Xero".
* ``GET .../xero/authorize``: records the authorization (state + PKCE) and goes to Xero.
* ``GET /link/xero/callback``: Xero's redirect back (the fixed redirect URI).
* ``GET|POST .../xero/organisations``: choose one of several organisations.
* ``GET .../xero/accounts``: map each source account (existing Xero account or a new one, feed
  start date, Connect) and "Manage connected accounts" (Disconnect, effective at once).
* ``POST .../xero/accounts/connect`` and ``.../xero/accounts/disconnect``.

Every page needs the link session a linkUrl opened (``link/service.py``); forms carry its CSRF
token. Xero is called with no transaction open (the services open their own).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from bankfeeds.config import Settings
from bankfeeds.errors import BadRequest, Unauthorized
from bankfeeds.kit.clock import Clock
from bankfeeds.kit.db import Database
from bankfeeds.kit.deps import ClockDep, DatabaseDep, SettingsDep
from bankfeeds.link import pages, service
from bankfeeds.models import Connection, ConnectionStatus
from bankfeeds.platforms.gbol import linking, mapping
from bankfeeds.platforms.gbol.client import as_error
from bankfeeds.platforms.gbol.grants import HOLDING
from bankfeeds.platforms.gbol.tokens import NotAuthorized
from bankfeeds.platforms.gbol.xero_api import XeroError
from bankfeeds.source_accounts import service as source_accounts

router = APIRouter(prefix=pages.PREFIX, include_in_schema=False)

XERO = "/companies/{companyId}/connections/{connectionId}/xero"
LanguageDep = Annotated[pages.Language, Depends(pages.language)]
FormText = Annotated[str | None, Form(max_length=200)]


def _urls(company_id: uuid.UUID, connection_id: uuid.UUID) -> dict[str, str]:
    base = f"{pages.PREFIX}/companies/{company_id}/connections/{connection_id}"
    return {"xero_url": f"{base}/xero", "authorize_url": f"{base}/xero/authorize",
            "organisations_url": f"{base}/xero/organisations", "accounts_url": f"{base}/xero/accounts",
            "connect_account_url": f"{base}/xero/accounts/connect",
            "disconnect_account_url": f"{base}/xero/accounts/disconnect", "cancel_url": f"{base}/cancel"}


def xero_link(
    request: Request, companyId: uuid.UUID, connectionId: uuid.UUID, database: DatabaseDep, clock: ClockDep,
    settings: SettingsDep,
) -> tuple[service.LinkSession, Connection]:
    """The link session for this Xero connection (a short transaction of its own)."""
    with database.unit_of_work() as session:
        link, connection = service.require(session, clock, settings, request.cookies.get(service.SESSION_COOKIE),
                                           companyId, connectionId)
        session.expunge(connection)
    if connection.platform_key != "gbol":
        raise BadRequest("This page is for Xero connections.")
    return link, connection


XeroLinkDep = Annotated[tuple[service.LinkSession, Connection], Depends(xero_link)]


def _redirect(settings: Settings, url: str) -> Response:
    return RedirectResponse(url, status_code=303, headers=pages.security_headers(settings))


@router.get(XERO)
def connect_page(link: XeroLinkDep, request: Request, settings: SettingsDep, lang: LanguageDep) -> Response:
    link_session, connection = link
    if connection.status == ConnectionStatus.LINKED:
        return _redirect(settings, _urls(connection.company_id, connection.id)["accounts_url"])
    return pages.render(request, settings, lang, "xero_connect.html", {
        "csrf_token": link_session.csrf, "relink": connection.status != ConnectionStatus.PENDING_AUTH,
        **_urls(connection.company_id, connection.id)})


@router.get(XERO + "/authorize")
def authorize(link: XeroLinkDep, database: DatabaseDep, clock: ClockDep, settings: SettingsDep) -> Response:
    link_session, connection = link
    url = linking.begin(database, clock, settings, connection.id, link_session.csrf)
    return RedirectResponse(url, status_code=303, headers=pages.security_headers(settings))


@router.get("/xero/callback")
def callback(
    request: Request, database: DatabaseDep, clock: ClockDep, settings: SettingsDep, lang: LanguageDep,
    code: Annotated[str | None, Query(max_length=2000)] = None,
    state: Annotated[str | None, Query(max_length=200)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    link = service.decode_session(settings, clock, request.cookies.get(service.SESSION_COOKIE))
    if link is None:
        # No link session in this browser: nothing to link, nothing to report against.
        return pages.render(request, settings, lang, "xero_failed.html", {"reason": "session", "urls": None},
                            status=400)
    outcome = linking.callback(database, clock, settings, link.connection_id, link.csrf,
                               state=state, code=code, error=error)
    urls = _urls(link.company_id, link.connection_id)
    if outcome.kind == "linked":
        return _redirect(settings, urls["accounts_url"] + "?linked=1")
    if outcome.kind == "choose":
        return _redirect(settings, urls["organisations_url"])
    return pages.render(request, settings, lang, "xero_failed.html", {"reason": outcome.reason, "urls": urls},
                        status=400 if outcome.reason == "state" else 200)


@router.get(XERO + "/organisations")
def organisations_page(
    link: XeroLinkDep, request: Request, database: DatabaseDep, clock: ClockDep, settings: SettingsDep,
    lang: LanguageDep,
) -> Response:
    link_session, connection = link
    try:
        tenants = linking.organisations(database, clock, settings, connection.id)
    except NotAuthorized:
        raise Unauthorized("Connect to Xero again from a fresh link.") from None
    except XeroError as exc:
        raise as_error(exc, clock, connection.id) from None
    return pages.render(request, settings, lang, "xero_organisations.html", {
        "csrf_token": link_session.csrf, "tenants": tenants, **_urls(connection.company_id, connection.id)})


@router.post(XERO + "/organisations")
def choose_organisation(
    link: XeroLinkDep, request: Request, database: DatabaseDep, clock: ClockDep, settings: SettingsDep,
    lang: LanguageDep, csrf_token: FormText = None, tenant_id: FormText = None,
) -> Response:
    link_session, connection = link
    service.check_csrf(link_session, csrf_token)
    if not tenant_id:
        raise BadRequest("Choose an organisation.")
    outcome = linking.choose(database, clock, settings, connection.id, tenant_id)
    urls = _urls(connection.company_id, connection.id)
    if outcome.kind == "linked":
        return _redirect(settings, urls["accounts_url"] + "?linked=1")
    if outcome.kind == "choose":
        return _redirect(settings, urls["organisations_url"])
    return pages.render(request, settings, lang, "xero_failed.html", {"reason": outcome.reason, "urls": urls})


@router.get(XERO + "/accounts")
def accounts_page(
    link: XeroLinkDep, request: Request, database: DatabaseDep, clock: ClockDep, settings: SettingsDep,
    lang: LanguageDep,
    linked: Annotated[str | None, Query(max_length=5)] = None,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    link_session, connection = link
    if connection.status != ConnectionStatus.LINKED:
        return _redirect(settings, _urls(connection.company_id, connection.id)["xero_url"])
    return _accounts(request, database, clock, settings, lang, link_session, connection,
                     linked=linked == "1", done=done)


def _accounts(
    request: Request, database: Database, clock: Clock, settings: Settings, lang: pages.Language,
    link_session: service.LinkSession, connection: Connection, *, linked: bool = False, done: str | None = None,
    problem: str | None = None, problem_account: str | None = None,
) -> Response:
    with database.unit_of_work() as session:
        row = session.get(Connection, connection.id)
        if row is None:
            raise Unauthorized("This link has expired.")
        company = row.company
        feed_errors = {a.account_id: a.feed_error for a in source_accounts.list_accounts(session, row)
                       if a.feed_error}
        session.expunge_all()
    try:
        items = mapping.mappings(database, clock, settings, company, connection)
    except (XeroError, NotAuthorized) as exc:
        raise as_error(exc, clock, connection.id) from None
    return pages.render(request, settings, lang, "xero_accounts.html", {
        "csrf_token": link_session.csrf, "organisation": linking.tenant_name(database, connection.id),
        "to_map": [i for i in items if i["status"] not in HOLDING],
        "feeds": [i for i in items if i["status"] in HOLDING],
        "feed_errors": feed_errors, "linked": linked, "done": done, "problem": problem,
        "problem_account": problem_account, "today": clock.now().date().isoformat(),
        **_urls(connection.company_id, connection.id),
    })


@router.post(XERO + "/accounts/connect")
def connect_account(
    link: XeroLinkDep, request: Request, database: DatabaseDep, clock: ClockDep, settings: SettingsDep,
    lang: LanguageDep, csrf_token: FormText = None, account_id: FormText = None, target: FormText = None,
    start_date: FormText = None,
) -> Response:
    link_session, connection = link
    service.check_csrf(link_session, csrf_token)
    if not account_id:
        raise BadRequest("Choose an account.")
    feed_start = None
    if start_date:
        try:
            feed_start = date.fromisoformat(start_date)
        except ValueError:
            raise BadRequest("The feed start date is not a date.") from None
    try:
        result = mapping.map_account(database, clock, settings, connection.id, account_id,
                                     None if not target or target == "new" else target, feed_start)
    except (XeroError, NotAuthorized) as exc:
        raise as_error(exc, clock, connection.id) from None
    except BadRequest as exc:
        return _accounts(request, database, clock, settings, lang, link_session, connection,
                         problem=exc.message, problem_account=account_id)
    if result.get("status") == "Failed":
        return _accounts(request, database, clock, settings, lang, link_session, connection,
                         problem=str(result.get("error") or ""), problem_account=account_id)
    return _redirect(settings, _urls(connection.company_id, connection.id)["accounts_url"] + "?done=connected")


@router.post(XERO + "/accounts/disconnect")
def disconnect_account(
    link: XeroLinkDep, database: DatabaseDep, clock: ClockDep, settings: SettingsDep,
    csrf_token: FormText = None, account_id: FormText = None,
) -> Response:
    link_session, connection = link
    service.check_csrf(link_session, csrf_token)
    if not account_id:
        raise BadRequest("Choose an account.")
    try:
        mapping.disconnect(database, clock, settings, connection.id, account_id)
    except (XeroError, NotAuthorized) as exc:
        raise as_error(exc, clock, connection.id) from None
    return _redirect(settings, _urls(connection.company_id, connection.id)["accounts_url"] + "?done=disconnected")

