"""The sandbox's Xero-like pages under ``/sandbox/xero``: sign in, the organisation's bank accounts
(feed status, statement lines waiting to be reconciled, statements), "Remove bank feed", the demo
clock and the fault switch form. No JavaScript; CSRF-checked forms.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, cast

from fastapi import APIRouter, Query, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from bankfeeds.errors import BadRequest, NotFound
from bankfeeds.models import (
    XeroSandboxAccount,
    XeroSandboxFeedConnection,
    XeroSandboxOrganisation,
    XeroSandboxStatement,
    XeroSandboxStatementLine,
    XeroSandboxUser,
)
from bankfeeds.sandbox.web import Pages, form_str
from bankfeeds.xero_sandbox import service
from bankfeeds.xero_sandbox.api import BASE, get_xs
from bankfeeds.xero_sandbox.limits import FAULT_KINDS, Fault
from bankfeeds.xero_sandbox.repository import XeroSandboxRepository
from bankfeeds.xero_sandbox.seed import DEMO_EMAIL, DEMO_PASSWORD, SOLO_EMAIL
from bankfeeds.xero_sandbox.service import XeroSandbox

HERE = Path(__file__).parent
SESSION_COOKIE = "xero_sandbox_session"
SESSION_SECONDS = 12 * 3600

router = APIRouter(prefix=BASE, include_in_schema=False)

NOTICES = {
    "removed": "The bank feed was removed. Xero will not accept statements for this account any more.",
    "advanced": "The sandbox clock moved forward one day.",
    "faults": "The fault switch is armed.",
    "limits-on": "Xero's rate limits are on.",
    "limits-off": "Xero's rate limits are off.",
}


def make_pages(secret_key: str, form_action_origins: list[str]) -> Pages:
    return Pages(HERE / "templates", secret_key=secret_key, cookie_name="xero_sandbox_csrf", cookie_path=BASE,
                 form_action_origins=form_action_origins, globals_={"base": BASE})


def get_pages(request: Request) -> Pages:
    return cast(Pages, request.app.state.xero_sandbox_pages)


# -- the sign-in session ---------------------------------------------------------------------------
def _session_mac(xs: XeroSandbox, payload: str) -> str:
    return hmac.new(f"xero-sandbox-session:{xs.secret_key}".encode(), payload.encode(), hashlib.sha256).hexdigest()


def session_value(xs: XeroSandbox, user_id: uuid.UUID) -> str:
    payload = f"{user_id}.{int(time.time())}"
    return f"{payload}.{_session_mac(xs, payload)}"


def current_user(request: Request) -> XeroSandboxUser | None:
    xs = get_xs(request)
    raw = request.cookies.get(SESSION_COOKIE, "")
    payload, _, mac = raw.rpartition(".")
    if not payload or not hmac.compare_digest(mac, _session_mac(xs, payload)):
        return None
    user_raw, _, issued = payload.partition(".")
    try:
        user_id = uuid.UUID(user_raw)
        if time.time() - int(issued) > SESSION_SECONDS:
            return None
    except ValueError:
        return None
    with xs.database.unit_of_work() as session:
        return XeroSandboxRepository(session).user(user_id)


def page(request: Request, template: str, ctx: dict[str, Any], status_code: int = 200) -> Response:
    xs = get_xs(request)
    return get_pages(request).render(request, template, {"demo": xs.demo, "now": xs.now(), **ctx},
                                     status_code=status_code)


def sign_in_page(request: Request, return_to: str, *, app_name: str | None = None, error: str | None = None,
                 email: str = "", status_code: int = 200) -> Response:
    xs = get_xs(request)
    return page(request, "sign_in.html", {
        "return_to": return_to, "app_name": app_name, "error": error, "email": email,
        "demo_users": [DEMO_EMAIL, SOLO_EMAIL] if xs.demo else [], "demo_password": DEMO_PASSWORD if xs.demo else None,
    }, status_code=status_code)


def _safe_return(raw: str) -> str:
    if raw.startswith(BASE) and not any(c in raw for c in ("\\", "\n", "\r", "\x00")):
        return raw
    return BASE


async def read_form(request: Request) -> FormData:
    return await get_pages(request).read_form(request, max_fields=40)


@router.post("/identity/login")
async def login(request: Request) -> Response:
    xs = get_xs(request)
    service.ensure_seeded(xs)
    form = await read_form(request)
    email = form_str(form, "email", max_length=254)
    return_to = _safe_return(form_str(form, "return_to", max_length=4000))
    with xs.database.unit_of_work() as session:
        user = service.sign_in(session, email, form_str(form, "password", max_length=200))
    if user is None:
        return sign_in_page(request, return_to, email=email, status_code=400,
                            error="That email and password do not match a Xero sandbox user.")
    response = get_pages(request).redirect(return_to)
    response.set_cookie(SESSION_COOKIE, session_value(xs, user.id), max_age=SESSION_SECONDS, path=BASE,
                        httponly=True, samesite="lax", secure=request.url.scheme == "https")
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    await read_form(request)
    response = get_pages(request).redirect(BASE)
    response.delete_cookie(SESSION_COOKIE, path=BASE)
    return response


@router.get("/static/xero.css")
def stylesheet(request: Request) -> Response:
    css = (HERE / "static" / "xero.css").read_text(encoding="utf-8")
    return get_pages(request).headers(Response(css, media_type="text/css"))


# -- the organisation's bank accounts --------------------------------------------------------------
@dataclass
class AccountView:
    account: XeroSandboxAccount
    feed: XeroSandboxFeedConnection | None
    lines: list[XeroSandboxStatementLine]
    statements: list[XeroSandboxStatement]


def _org_for(request: Request, user: XeroSandboxUser, raw: str | None) -> tuple[XeroSandboxOrganisation,
                                                                                list[XeroSandboxOrganisation]]:
    xs = get_xs(request)
    with xs.database.unit_of_work() as session:
        orgs = XeroSandboxRepository(session).organisations_of(user.id)
    if not orgs:
        raise NotFound("You do not belong to any organisation in the Xero sandbox.")
    chosen = next((o for o in orgs if str(o.id) == raw), None)
    if raw and chosen is None:
        raise NotFound("That organisation is not one of yours.")
    return chosen or orgs[0], orgs


@router.get("")
def home(request: Request, org: Annotated[str | None, Query(max_length=36)] = None,
         notice: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    xs = get_xs(request)
    service.ensure_seeded(xs)
    user = current_user(request)
    if user is None:
        return sign_in_page(request, BASE)
    current, orgs = _org_for(request, user, org)
    views = []
    with xs.database.unit_of_work() as session:
        service.process_due(session, xs, organisation_id=current.id)
    with xs.database.unit_of_work() as session:
        repo = XeroSandboxRepository(session)
        feeds = {f.account_id: f for f in repo.live_feeds(None, current.id)}
        for acc in repo.bank_accounts(current.id):
            feed = feeds.get(acc.id)
            views.append(AccountView(acc, feed, repo.unreconciled(acc.id),
                                     repo.statements_of_feed(feed.id) if feed else []))
    return page(request, "home.html", {
        "user": user, "organisation": current, "organisations": orgs, "accounts": views,
        "notice": NOTICES.get(notice or ""), "faults": xs.faults.armed(), "limits_on": xs.limits.enabled,
        "fault_kinds": FAULT_KINDS,
    })


def _feed_of_user(request: Request, feed_id: uuid.UUID) -> tuple[XeroSandboxFeedConnection, XeroSandboxAccount]:
    xs = get_xs(request)
    user = current_user(request)
    with xs.database.unit_of_work() as session:
        repo = XeroSandboxRepository(session)
        feed = repo.feed(feed_id)
        if (user is None or feed is None or feed.status == "DELETED"
                or repo.membership(user.id, feed.organisation_id) is None):
            raise NotFound("That bank feed does not exist, or it was removed already.")
        account = repo.account(feed.organisation_id, feed.account_id)
        assert account is not None
        return feed, account


@router.get("/feeds/{feed_id}/remove")
def confirm_remove(request: Request, feed_id: uuid.UUID) -> Response:
    feed, account = _feed_of_user(request, feed_id)
    return page(request, "confirm_remove.html", {"feed": feed, "account": account})


@router.post("/feeds/{feed_id}/remove")
async def remove(request: Request, feed_id: uuid.UUID) -> Response:
    xs = get_xs(request)
    await read_form(request)
    feed, _ = _feed_of_user(request, feed_id)
    with xs.database.unit_of_work() as session:
        row = XeroSandboxRepository(session).feed(feed.id, for_update=True)
        if row is not None and row.status != "DELETED":
            service.remove_feed(row, xs.now())
    return get_pages(request).redirect(f"{BASE}?org={feed.organisation_id}&notice=removed")


def _back(form: FormData, notice: str) -> str:
    org = form_str(form, "org", max_length=36)
    try:
        return f"{BASE}?org={uuid.UUID(org)}&notice={notice}" if org else f"{BASE}?notice={notice}"
    except ValueError:
        raise BadRequest("The organisation to return to is not valid.") from None


@router.post("/clock/advance")
async def advance_clock(request: Request) -> Response:
    xs = get_xs(request)
    form = await read_form(request)
    advance = getattr(xs.clock, "advance", None)
    if not xs.demo or advance is None:
        raise NotFound("The sandbox clock can only be moved in demo mode.")
    advance(timedelta(days=1))
    return get_pages(request).redirect(_back(form, "advanced"))


def parse_fault(kind: str, count_raw: Any, retry_raw: Any, tenant_raw: Any) -> Fault:
    if kind not in FAULT_KINDS:
        raise BadRequest(f"kind must be one of {', '.join(FAULT_KINDS)}.")

    def number(raw: Any, name: str, default: int, top: int) -> int:
        if raw in (None, ""):
            return default
        if isinstance(raw, bool):
            raise BadRequest(f"{name} must be a whole number from 1 to {top}.")
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise BadRequest(f"{name} must be a whole number from 1 to {top}.") from None
        if not 1 <= value <= top or (isinstance(raw, float) and raw != value):
            raise BadRequest(f"{name} must be a whole number from 1 to {top}.")
        return value

    tenant = None
    if tenant_raw not in (None, ""):
        try:
            tenant = str(uuid.UUID(str(tenant_raw)))
        except ValueError:
            raise BadRequest("tenantId must be an organisation id (uuid).") from None
    return Fault(kind, number(count_raw, "count", 1, 10000), number(retry_raw, "retryAfter", 1, 86400), tenant)


@router.post("/faults")
async def faults_form(request: Request) -> Response:
    xs = get_xs(request)
    form = await read_form(request)
    xs.faults.add(parse_fault(form_str(form, "kind", max_length=20), form_str(form, "count", max_length=6),
                              form_str(form, "retry_after", max_length=6), form_str(form, "tenant", max_length=36)))
    return get_pages(request).redirect(_back(form, "faults"))


@router.post("/limits")
async def limits_form(request: Request) -> Response:
    xs = get_xs(request)
    form = await read_form(request)
    xs.limits.enabled = form_str(form, "enabled", max_length=5) == "on"
    return get_pages(request).redirect(_back(form, "limits-on" if xs.limits.enabled else "limits-off"))
