"""The operator console at ``/console`` (server-rendered pages, EN/FR; see service.py for the rules).

Reads are open to every signed-in operator; actions (resend, replay, recover, API keys) to admins,
each checked for the session's CSRF token and written to the audit log.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from bankfeeds.api_keys import service as api_keys
from bankfeeds.console import pages, service, views
from bankfeeds.errors import BankfeedsError, NotFound
from bankfeeds.kit import csrf
from bankfeeds.kit.clock import Clock
from bankfeeds.kit.deps import ClockDep, SessionDep, SettingsDep, get_clock, get_database, get_settings, parse_uuid
from bankfeeds.kit.surfaces import SurfaceRegistry
from bankfeeds.models import WebhookConsumer
from bankfeeds.models.webhook_message import WebhookMessageStatus
from bankfeeds.webhooks import service as webhooks
from bankfeeds.webhooks.deps import NOT_FOUND as WEBHOOK_NOT_FOUND

router = APIRouter(prefix=pages.PREFIX, include_in_schema=False)
LanguageDep = Annotated[pages.Language, Depends(pages.language)]
CsrfField = Annotated[str | None, Form(max_length=200)]


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def signed_in(request: Request, session: SessionDep, clock: ClockDep) -> service.Signed:
    return service.current(session, clock, request.cookies.get(pages.SESSION_COOKIE))


SignedDep = Annotated[service.Signed, Depends(signed_in)]


def _page(request: Request, lang: pages.Language, signed: service.Signed, template: str, **context: object) -> Response:
    return pages.render(request, lang, template, {**context, "operator": signed.operator,
                                                  "csrf_token": signed.session.csrf})


def _admin_action(session: Session, clock: Clock, signed: service.Signed, csrf_token: str | None) -> None:
    service.check_csrf(signed, csrf_token)
    service.require_admin(signed)


def _consumer(session: Session, raw_id: str) -> WebhookConsumer:
    return webhooks.get(session, parse_uuid(raw_id, WEBHOOK_NOT_FOUND))


def _back(url: str) -> Response:
    return RedirectResponse(url, status_code=303, headers=pages.headers())


# ---------------------------------------------------------------------------- sign-in


@router.get("/login")
def login_page(request: Request, lang: LanguageDep, settings: SettingsDep) -> Response:
    return _login_form(request, lang, settings, error=None)


def _login_form(request: Request, lang: pages.Language, settings: object, error: str | None,
                status: int = 200, username: str = "") -> Response:
    token = csrf.new_token()
    response = pages.render(request, lang, "login.html", {"login_token": token, "error": error,
                                                          "username": username}, status=status)
    response.set_cookie(pages.LOGIN_COOKIE, token, max_age=3600, path=pages.PREFIX, httponly=True,
                        samesite="strict", secure=pages.secure(get_settings(request)))
    return response


@router.post("/login")
def login(
    request: Request, lang: LanguageDep,
    username: Annotated[str, Form(max_length=200)] = "", password: Annotated[str, Form(max_length=1000)] = "",
    login_token: CsrfField = None,
) -> Response:
    settings, clock = get_settings(request), get_clock(request)
    t = pages.translator(lang.code)
    cookie = request.cookies.get(pages.LOGIN_COOKIE)
    if not csrf.matches(cookie, login_token):
        return _login_form(request, lang, settings, t("This form has expired; please try again."), 400, username)
    with get_database(request).unit_of_work() as session:
        outcome = service.sign_in(session, clock, settings, username, password, _address(request))
    if isinstance(outcome, BankfeedsError):
        if outcome.status_code == 429:
            raise outcome
        return _login_form(request, lang, settings, t(outcome.message), 401, username)
    _signed, token = outcome
    response = _back(pages.PREFIX)
    response.set_cookie(pages.SESSION_COOKIE, token, max_age=int(service.SESSION_MAX.total_seconds()),
                        path=pages.PREFIX, httponly=True, samesite="strict", secure=pages.secure(settings))
    response.delete_cookie(pages.LOGIN_COOKIE, path=pages.PREFIX)
    return response


@router.post("/logout")
def logout(request: Request, signed: SignedDep, session: SessionDep, clock: ClockDep,
           csrf_token: CsrfField = None) -> Response:
    service.check_csrf(signed, csrf_token)
    service.sign_out(session, clock, signed, _address(request))
    response = _back(f"{pages.PREFIX}/login")
    response.delete_cookie(pages.SESSION_COOKIE, path=pages.PREFIX)
    return response


# ---------------------------------------------------------------------------- reading


@router.get("")
def overview(request: Request, signed: SignedDep, session: SessionDep, clock: ClockDep, settings: SettingsDep,
             lang: LanguageDep) -> Response:
    data = views.overview(session, clock, settings, pages.translator(lang.code))
    return _page(request, lang, signed, "overview.html", **data)


@router.get("/search")
def search(request: Request, signed: SignedDep, session: SessionDep, lang: LanguageDep,
           q: Annotated[str, Query(max_length=200)] = "") -> Response:
    return _page(request, lang, signed, "search.html", q=q, results=views.search(session, q), searched=bool(q.strip()))


@router.get("/companies/{companyId}")
def company(request: Request, companyId: str, signed: SignedDep, session: SessionDep, clock: ClockDep,
            settings: SettingsDep, lang: LanguageDep) -> Response:
    key = parse_uuid(companyId, "No company was found with this ID.")
    row, health, pushes = views.company(session, clock, settings, key)
    return _page(request, lang, signed, "company.html", company=row, health=health, pushes=pushes)


@router.get("/pushes")
def pushes(request: Request, signed: SignedDep, session: SessionDep, clock: ClockDep, lang: LanguageDep,
           status: Annotated[str, Query(max_length=20)] = "",
           company: Annotated[str, Query(max_length=100)] = "",
           days: Annotated[int, Query(ge=1, le=90)] = 7) -> Response:
    rows = views.pushes(session, clock, status or None, company or None, days)
    return _page(request, lang, signed, "pushes.html", rows=rows, status=status, company=company, days=days,
                 statuses=views.PUSH_STATUSES)


@router.get("/webhooks")
def webhook_consumers(request: Request, signed: SignedDep, session: SessionDep, lang: LanguageDep) -> Response:
    consumers = webhooks.list_consumers(session)
    counts = webhooks.pending_counts(session)
    return _page(request, lang, signed, "webhooks.html", consumers=consumers, counts=counts)


@router.get("/webhooks/{consumerId}")
def webhook_messages(request: Request, consumerId: str, signed: SignedDep, session: SessionDep, lang: LanguageDep,
                     status: Annotated[str, Query(max_length=20)] = "") -> Response:
    consumer = _consumer(session, consumerId)
    wanted = status if status in tuple(WebhookMessageStatus) else None
    rows = webhooks.messages(session, consumer, status=wanted, since=None, limit=100)
    return _page(request, lang, signed, "consumer.html", consumer=consumer, messages=rows, status=status or "",
                 done=request.query_params.get("done", "")[:40])


@router.get("/webhooks/{consumerId}/messages/{messageId}")
def webhook_attempts(request: Request, consumerId: str, messageId: str, signed: SignedDep, session: SessionDep,
                     lang: LanguageDep) -> Response:
    consumer = _consumer(session, consumerId)
    message = webhooks.get_message(session, consumer, messageId)
    rows = webhooks.attempts(session, consumer, messageId)
    return _page(request, lang, signed, "message.html", consumer=consumer, message=message, attempts=rows)


@router.get("/audit")
def audit(request: Request, signed: SignedDep, session: SessionDep, lang: LanguageDep) -> Response:
    service.require_admin(signed)
    return _page(request, lang, signed, "audit.html", rows=service.audit_log(session))


# ---------------------------------------------------------------------------- acting (admins)


@router.post("/webhooks/{consumerId}/messages/{messageId}/resend")
def resend(request: Request, consumerId: str, messageId: str, signed: SignedDep, session: SessionDep,
           clock: ClockDep, csrf_token: CsrfField = None) -> Response:
    _admin_action(session, clock, signed, csrf_token)
    consumer = _consumer(session, consumerId)
    message = webhooks.resend(session, clock, consumer, messageId)
    service.audit(session, clock, signed.operator, "webhook_resend", target=message.id,
                  address=_address(request), consumer_id=str(consumer.id))
    return _back(f"{pages.PREFIX}/webhooks/{consumer.id}/messages/{message.id}?done=resend")


@router.post("/webhooks/{consumerId}/replay")
def replay(request: Request, consumerId: str, signed: SignedDep, session: SessionDep, clock: ClockDep,
           csrf_token: CsrfField = None, mode: Annotated[str, Form(max_length=20)] = "missing",
           hours: Annotated[int, Form(ge=1, le=336)] = 24) -> Response:
    _admin_action(session, clock, signed, csrf_token)
    consumer = _consumer(session, consumerId)
    since = clock.now() - timedelta(hours=hours)
    if mode == "failed":
        count = webhooks.recover(session, clock, consumer, since)
    else:
        count = webhooks.replay_missing(session, clock, consumer, since)
    service.audit(session, clock, signed.operator, f"webhook_{'recover' if mode == 'failed' else 'replay'}",
                  target=str(consumer.id), address=_address(request), hours=hours, count=count)
    return _back(f"{pages.PREFIX}/webhooks/{consumer.id}?done={mode}-{count}")


@router.get("/api-keys")
def api_keys_page(request: Request, signed: SignedDep, session: SessionDep, lang: LanguageDep) -> Response:
    service.require_admin(signed)
    return _page(request, lang, signed, "api_keys.html", keys=api_keys.list_keys(session), new_key=None)


@router.post("/api-keys")
def create_api_key(request: Request, signed: SignedDep, session: SessionDep, clock: ClockDep, lang: LanguageDep,
                   csrf_token: CsrfField = None, name: Annotated[str, Form(max_length=100)] = "") -> Response:
    _admin_action(session, clock, signed, csrf_token)
    row, raw = api_keys.create(session, clock, name.strip() or "console")
    service.audit(session, clock, signed.operator, "api_key_create", target=str(row.id),
                  address=_address(request), name=row.name, prefix=row.prefix)
    # Shown once, on this answer only (no redirect: it is never stored to show again).
    return _page(request, lang, signed, "api_keys.html", keys=api_keys.list_keys(session), new_key=raw)


@router.get("/api-keys/{keyId}/revoke")
def confirm_revoke_api_key(request: Request, keyId: str, signed: SignedDep, session: SessionDep,
                           lang: LanguageDep) -> Response:
    """Revoking cannot be undone: say what stops working, then ask."""
    service.require_admin(signed)
    key = next((k for k in api_keys.list_keys(session) if str(k.id) == keyId), None)
    if key is None:
        raise NotFound("No API key was found with this ID.")
    return _page(request, lang, signed, "revoke_key.html", key=key)


@router.post("/api-keys/{keyId}/revoke")
def revoke_api_key(request: Request, keyId: str, signed: SignedDep, session: SessionDep, clock: ClockDep,
                   csrf_token: CsrfField = None) -> Response:
    _admin_action(session, clock, signed, csrf_token)
    row = api_keys.revoke(session, clock, parse_uuid(keyId, "No API key was found with this ID."))
    service.audit(session, clock, signed.operator, "api_key_revoke", target=str(row.id),
                  address=_address(request), name=row.name, prefix=row.prefix)
    return _back(f"{pages.PREFIX}/api-keys")


def mount(app: FastAPI, surfaces: SurfaceRegistry) -> None:
    surfaces.register(pages.PREFIX, pages.render_error)
    app.include_router(router)
    app.mount(f"{pages.PREFIX}/static", StaticFiles(directory=pages.HERE / "static"), name="console-static")


