"""The hosted link pages at ``/link``.

* ``GET /link/companies/{companyId}/connections/{connectionId}/start?otp=...``: the linkUrl. Redeems
  the one-time password, opens the signed session and redirects to page 1.
* ``GET .../connections/{connectionId}``: page 1, "Connect to QuickBooks Online Bank Feeds".
* ``GET .../connections/{connectionId}/setup``: page 2, "Set up QuickBooks".
* ``POST .../setup/credentials``: Get credentials (shown once). ``POST .../setup/revoke``: Revoke.
* ``POST .../connections/{connectionId}/cancel``: Cancel (pages 1 and 2): ``connection.failed``, the
  session ends, and a page says how to start again.
* ``GET /link/company/{companyId}``: the company's ``redirect``; points to the connection link.

Every page takes ``?lang=en|fr`` (remembered in a cookie). Errors render as pages.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import RedirectResponse, Response

from bankfeeds.config import Settings
from bankfeeds.connections.service import platform_of
from bankfeeds.errors import BankfeedsError
from bankfeeds.kit.deps import ClockDep, SessionDep, SettingsDep, get_clock, get_database, get_settings
from bankfeeds.kit.surfaces import SurfaceRegistry
from bankfeeds.link import i18n, pages, service, xero
from bankfeeds.models import Connection

router = APIRouter(prefix=pages.PREFIX, include_in_schema=False)

CONNECTION = "/companies/{companyId}/connections/{connectionId}"
LanguageDep = Annotated[pages.Language, Depends(pages.language)]
CsrfField = Annotated[str | None, Form()]


def _urls(company_id: uuid.UUID, connection_id: uuid.UUID) -> dict[str, Any]:
    base = f"{pages.PREFIX}/companies/{company_id}/connections/{connection_id}"
    return {"connect_url": base, "setup_url": f"{base}/setup",
            "credentials_url": f"{base}/setup/credentials", "revoke_url": f"{base}/setup/revoke",
            "cancel_url": f"{base}/cancel"}


def start_session(
    request: Request, companyId: uuid.UUID, connectionId: uuid.UUID,
    otp: Annotated[str | None, Query(max_length=200)] = None,
) -> service.LinkSession:
    """Redeems the OTP in its own short transaction (failure counts commit), before the request's."""
    settings, clock = get_settings(request), get_clock(request)
    existing = service.decode_session(settings, clock, request.cookies.get(service.SESSION_COOKIE))
    address = request.client.host if request.client else "unknown"
    with get_database(request).unit_of_work() as session:
        outcome = service.start(session, clock, settings, companyId, connectionId, otp, existing, address)
    if isinstance(outcome, BankfeedsError):
        raise outcome
    return outcome


def current_link(
    request: Request, companyId: uuid.UUID, connectionId: uuid.UUID,
    session: SessionDep, clock: ClockDep, settings: SettingsDep,
) -> tuple[service.LinkSession, Connection]:
    return service.require(session, clock, settings, request.cookies.get(service.SESSION_COOKIE),
                           companyId, connectionId)


LinkDep = Annotated[tuple[service.LinkSession, Connection], Depends(current_link)]


@router.get(CONNECTION + "/start")
def start(
    link: Annotated[service.LinkSession, Depends(start_session)], settings: SettingsDep, lang: LanguageDep,
) -> Response:
    response = RedirectResponse(_urls(link.company_id, link.connection_id)["connect_url"], status_code=303,
                                headers=pages.security_headers(settings))
    max_age = int(service.SESSION_TTL.total_seconds())
    pages.set_session_cookie(response, settings, service.SESSION_COOKIE, service.encode_session(settings, link),
                             max_age)
    pages.remember_language(response, settings, lang)
    return response


@router.get(CONNECTION)
def connect_page(link: LinkDep, request: Request, settings: SettingsDep, lang: LanguageDep) -> Response:
    link_session, connection = link
    page = pages.PREFIX + platform_of(connection).link_page(connection)
    if page != request.url.path:
        # The linkUrl opens this page for every platform; each platform has its own first page.
        return RedirectResponse(page, status_code=303, headers=pages.security_headers(settings))
    return pages.render(request, settings, lang, "connect.html", {
        "csrf_token": link_session.csrf, **_urls(connection.company_id, connection.id)})


@router.get(CONNECTION + "/setup")
def setup_page(
    link: LinkDep, request: Request, session: SessionDep, settings: SettingsDep, lang: LanguageDep,
    revoked: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    link_session, connection = link
    title, body = _callout(settings, lang.code)
    return pages.render(request, settings, lang, "setup.html", {
        "has_credentials": service.has_credentials(session, connection), "revoked": revoked == "1",
        "csrf_token": link_session.csrf, "callout_title": title, "callout_body": body,
        **_urls(connection.company_id, connection.id),
    })


@router.post(CONNECTION + "/setup/credentials")
def get_credentials(
    link: LinkDep, session: SessionDep, clock: ClockDep, settings: SettingsDep, lang: LanguageDep,
    csrf_token: CsrfField = None,
) -> Response:
    link_session, connection = link
    pair = service.get_credentials(session, clock, settings, link_session, connection, csrf_token)
    return pages.render_dual(settings, lang, "credentials.html", {
        "username": pair.username, "password": pair.password, "qbo_sign_in_url": _qbo_sign_in_url(settings),
        **_urls(connection.company_id, connection.id)})


@router.post(CONNECTION + "/setup/revoke")
def revoke_credentials(
    link: LinkDep, session: SessionDep, clock: ClockDep, settings: SettingsDep,
    csrf_token: CsrfField = None,
) -> Response:
    link_session, connection = link
    fresh = service.revoke_credentials(session, clock, settings, link_session, connection, csrf_token)
    url = _urls(connection.company_id, connection.id)["setup_url"] + "?revoked=1"
    response = RedirectResponse(url, status_code=303, headers=pages.security_headers(settings))
    pages.set_session_cookie(response, settings, service.SESSION_COOKIE, service.encode_session(settings, fresh),
                             int(service.SESSION_TTL.total_seconds()))
    return response


@router.post(CONNECTION + "/cancel")
def cancel(
    link: LinkDep, session: SessionDep, clock: ClockDep, settings: SettingsDep, lang: LanguageDep,
    csrf_token: CsrfField = None,
) -> Response:
    link_session, connection = link
    outcome = service.cancel(session, clock, settings, link_session, connection, csrf_token)
    response = pages.render_dual(settings, lang, "cancelled.html", {
        "cancelled": outcome.cancelled, "credentials_revoked": outcome.credentials_revoked > 0,
        **_urls(connection.company_id, connection.id)})
    if outcome.cancelled:
        pages.clear_session_cookie(response, settings, service.SESSION_COOKIE)
    return response


@router.get("/company/{companyId}")
def company_page(companyId: uuid.UUID, request: Request, settings: SettingsDep, lang: LanguageDep) -> Response:
    return pages.render(request, settings, lang, "company.html", {})


def _qbo_sign_in_url(settings: Settings) -> str | None:
    """In demo mode, "Sign in to QuickBooks Online" opens the QuickBooks sandbox on this server."""
    return "/sandbox/qbo" if settings.demo else None


def _callout(settings: Settings, lang: str) -> tuple[str | None, str | None]:
    """The bank's callout in the page's language; the English one when there is no French one."""
    title = getattr(settings, f"callout_title_{lang}", None)
    body = getattr(settings, f"callout_body_{lang}", None)
    if not title and not body and lang != i18n.DEFAULT:
        return settings.callout_title_en, settings.callout_body_en
    return title, body


class RedactOtp(logging.Filter):
    """Access logs must not carry the linkUrl's one-time password, nor the OAuth ``code`` and
    ``state`` of Xero's redirect to ``/link/xero/callback``."""

    _OTP = re.compile(r"((?<![A-Za-z_])(?:otp|code|state)=)[^&\s\"]*", re.IGNORECASE)

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self._OTP.sub(r"\1[redacted]", a) if isinstance(a, str) else a
                                for a in record.args)
        if isinstance(record.msg, str) and self._OTP.search(record.msg):
            record.msg = self._OTP.sub(r"\1[redacted]", record.msg)
        return True


def _install_log_redaction() -> None:
    for name in ("uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactOtp) for f in logger.filters):
            logger.addFilter(RedactOtp())


def mount(app: FastAPI, surfaces: SurfaceRegistry) -> None:
    surfaces.register(pages.PREFIX, pages.render_error)
    app.include_router(router)
    app.include_router(xero.router)
    app.mount(f"{pages.PREFIX}/static", StaticFiles(directory=i18n.HERE / "static"), name="link-static")
    _install_log_redaction()
