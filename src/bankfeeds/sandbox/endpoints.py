"""The sandbox's pages under /sandbox/qbo: sign in, Banking, Link account, Update, Disconnect."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from bankfeeds.errors import BadRequest
from bankfeeds.kit.surfaces import SANDBOX, SurfaceRegistry
from bankfeeds.sandbox import service
from bankfeeds.sandbox.directory import hub_directory
from bankfeeds.sandbox.service import FormError, Sandbox, Selection
from bankfeeds.sandbox.web import Pages, form_str

BASE = f"{SANDBOX}/qbo"
HERE = Path(__file__).parent
MAX_ACCOUNTS_ON_FORM = 100

router = APIRouter(prefix=BASE, include_in_schema=False)


def get_sandbox(request: Request) -> Sandbox:
    return cast(Sandbox, request.app.state.sandbox)


def get_pages(request: Request) -> Pages:
    return cast(Pages, request.app.state.sandbox_pages)


async def get_form(request: Request) -> FormData:
    """The posted form, CSRF-checked. Malformed bodies are a 400."""
    return await get_pages(request).read_form(request, max_fields=4 * MAX_ACCOUNTS_ON_FORM + 20)


SandboxDep = Annotated[Sandbox, Depends(get_sandbox)]
PagesDep = Annotated[Pages, Depends(get_pages)]
FormDep = Annotated[FormData, Depends(get_form)]

# (message, kind): "ok" notices are green; "warn" ones say something did not happen.
NOTICES = {
    "updated": ("Updated: {n} new transaction{s} downloaded into For review.", "ok"),
    "up-to-date": ("Your bank accounts are up to date: there was nothing new to download.", "ok"),
    "update-failed": ("QuickBooks couldn't update {n} account{s}: see the message on the account below.",
                      "warn"),
    "no-feeds": ("There is nothing to update yet: link a bank account first.", "warn"),
    "linked": ("Your account is connected. {n} transaction{s} downloaded into For review.", "ok"),
    "linked-empty": ("Your account is connected. There were no transactions to download yet: new ones arrive "
                     "with the daily download, or when you click Update.", "ok"),
    "linked-failed": ("Your account is connected, but the first download failed: see the message on the "
                      "account below.", "warn"),
    "disconnected": ("The account was disconnected. QuickBooks will not download its transactions any more. "
                     "QuickBooks does not tell the bank: the bank sees the feed as disconnected once nothing was "
                     "downloaded for several days (10 by default).", "ok"),
    "advanced": ("The sandbox clock moved forward one day and the daily download ran.", "ok"),
}


def _notice(key: str | None, n: int | None) -> tuple[str, str] | None:
    found = NOTICES.get(key or "")
    if found is None:
        return None
    count = n or 0
    return found[0].format(n=count, s="" if count == 1 else "s"), found[1]


def _outcome(kind: str, results: list[service.PullResult]) -> str:
    """The notice for what a batch of pulls did: how many came, or that some failed."""
    failed = sum(1 for r in results if r.error)
    if failed:
        return f"{kind}-failed&n={failed}"
    downloaded = sum(r.downloaded for r in results)
    if kind == "update":
        return f"updated&n={downloaded}" if downloaded else "up-to-date"
    return f"linked&n={downloaded}" if downloaded else "linked-empty"


def _page(pages: Pages, sb: Sandbox, request: Request, template: str, ctx: dict[str, Any],
          status_code: int = 200) -> Response:
    return pages.render(request, template, {"base": BASE, "demo": sb.demo, "now": sb.clock.now(), **ctx},
                        status_code=status_code)


@router.get("")
def home(request: Request, sb: SandboxDep, pages: PagesDep) -> Response:
    return _page(pages, sb, request, "home.html", {"companies": service.companies(sb)})


@router.get("/static/sandbox.css")
def stylesheet(pages: PagesDep) -> Response:
    css = (HERE / "static" / "sandbox.css").read_text(encoding="utf-8")
    return pages.headers(Response(css, media_type="text/css"))


@router.get("/companies/{company_id}/banking")
def banking(request: Request, company_id: uuid.UUID, sb: SandboxDep, pages: PagesDep,
            account: Annotated[uuid.UUID | None, Query()] = None,
            notice: Annotated[str | None, Query(max_length=30)] = None,
            n: Annotated[int | None, Query(ge=0, le=1_000_000)] = None) -> Response:
    view = service.banking(sb, company_id, account)
    return _page(pages, sb, request, "banking.html", {"view": view, "notice": _notice(notice, n)})


@router.post("/companies/{company_id}/banking/update")
def update(company_id: uuid.UUID, sb: SandboxDep, pages: PagesDep, form: FormDep) -> Response:
    results = service.update(sb, company_id)
    notice = _outcome("update", results) if results else "no-feeds"
    return pages.redirect(f"{BASE}/companies/{company_id}/banking?notice={notice}")


@router.post("/companies/{company_id}/feeds/{feed_id}/disconnect")
def disconnect(company_id: uuid.UUID, feed_id: uuid.UUID, sb: SandboxDep, pages: PagesDep,
               form: FormDep) -> Response:
    service.disconnect(sb, company_id, feed_id)
    return pages.redirect(f"{BASE}/companies/{company_id}/banking?notice=disconnected")


@router.post("/clock/advance")
def advance_clock(sb: SandboxDep, pages: PagesDep, form: FormDep) -> Response:
    back = form_str(form, "company_id", max_length=36)
    try:
        company_id = uuid.UUID(back) if back else None
    except ValueError:
        raise BadRequest("The company to return to is not valid.") from None
    if company_id is not None:
        service.company(sb, company_id)
    service.advance_clock(sb)
    if company_id is None:
        return pages.redirect(BASE)
    return pages.redirect(f"{BASE}/companies/{company_id}/banking?notice=advanced")


@router.get("/companies/{company_id}/link")
def link_search(request: Request, company_id: uuid.UUID, sb: SandboxDep, pages: PagesDep,
                q: Annotated[str, Query(max_length=100)] = "") -> Response:
    comp = service.company(sb, company_id)
    results = sb.directory.search(q) if q.strip() else []
    return _page(pages, sb, request, "link_search.html",
                 {"company": comp, "q": q, "results": results, "searched": bool(q.strip())})


@router.get("/companies/{company_id}/link/{slug}")
def link_sign_in_form(request: Request, company_id: uuid.UUID, slug: str, sb: SandboxDep,
                      pages: PagesDep) -> Response:
    comp = service.company(sb, company_id)
    inst = service.institution(sb, slug)
    return _page(pages, sb, request, "link_sign_in.html", {"company": comp, "institution": inst})


@router.post("/companies/{company_id}/link/{slug}")
def link_sign_in(request: Request, company_id: uuid.UUID, slug: str, sb: SandboxDep, pages: PagesDep,
                 form: FormDep) -> Response:
    comp = service.company(sb, company_id)
    inst = service.institution(sb, slug)
    username = form_str(form, "username", max_length=200)
    try:
        login_id = service.sign_in(sb, company_id, slug, username, form_str(form, "password", max_length=200),
                                   form_str(form, "accept_terms") == "yes")
    except FormError as exc:
        return _page(pages, sb, request, "link_sign_in.html",
                     {"company": comp, "institution": inst, "error": exc.message, "username": username,
                      "accepted": form_str(form, "accept_terms") == "yes"}, status_code=exc.status_code)
    return pages.redirect(f"{BASE}/companies/{company_id}/link/logins/{login_id}/accounts")


@router.get("/companies/{company_id}/link/logins/{login_id}/accounts")
def link_accounts_form(request: Request, company_id: uuid.UUID, login_id: uuid.UUID, sb: SandboxDep,
                       pages: PagesDep) -> Response:
    service.company(sb, company_id)
    view = service.choose_accounts(sb, company_id, login_id)
    return _page(pages, sb, request, "link_accounts.html", {"view": view, "chosen": None})


@router.post("/companies/{company_id}/link/logins/{login_id}/accounts")
def link_accounts(request: Request, company_id: uuid.UUID, login_id: uuid.UUID, sb: SandboxDep,
                  pages: PagesDep, form: FormDep) -> Response:
    service.company(sb, company_id)
    raw_count = form_str(form, "count", max_length=4)
    if not raw_count.isdigit() or int(raw_count) > MAX_ACCOUNTS_ON_FORM:
        raise BadRequest("The list of accounts on the form is not valid; start Link account again.")
    selections, chosen = [], {}
    for i in range(int(raw_count)):
        source = form_str(form, f"source_{i}", max_length=200)
        target = form_str(form, f"target_{i}", max_length=40)
        new_name = form_str(form, f"new_name_{i}", max_length=100)
        chosen[source] = {"selected": form_str(form, f"select_{i}") == "yes", "target": target, "new_name": new_name}
        if form_str(form, f"select_{i}") == "yes":
            if not source:
                raise BadRequest("The list of accounts on the form is not valid; start Link account again.")
            selections.append(Selection(source, target, new_name))
    start = form_str(form, "feed_start_date", max_length=20)
    try:
        results = service.connect(sb, company_id, login_id, selections, start)
    except FormError as exc:
        view = service.choose_accounts(sb, company_id, login_id)
        return _page(pages, sb, request, "link_accounts.html",
                     {"view": view, "error": exc.message, "chosen": chosen, "start": start},
                     status_code=exc.status_code)
    return pages.redirect(f"{BASE}/companies/{company_id}/banking?notice={_outcome('linked', results)}")


def make_pages(secret_key: str) -> Pages:
    return Pages(HERE / "templates", secret_key=secret_key, cookie_name="sandbox_csrf", cookie_path=SANDBOX,
                 globals_={"base": BASE})


def install(app: FastAPI, sb: Sandbox, secret_key: str) -> Pages:
    """Attach the sandbox to an app (the hub, or the standalone `bankfeeds sandbox` server)."""
    pages = make_pages(secret_key)
    app.state.sandbox = sb
    app.state.sandbox_pages = pages
    app.include_router(router)
    return pages


def mount(app: FastAPI, surfaces: SurfaceRegistry) -> None:
    """Inside the hub: the one institution is the hub itself, pulled over HTTP at its public URL.

    Mounted only in demo mode (``BANKFEEDS_DEMO=true``): the sandbox is a test double of QuickBooks.
    """
    settings = app.state.settings
    if not settings.demo:
        return  # the demo surfaces (and their advanceable clock) exist only in demo mode
    sb = Sandbox(
        database=app.state.database, clock=app.state.clock, directory=hub_directory(settings),
        vault=service.credentials_vault(settings.secret_key), demo=settings.demo,
    )
    pages = install(app, sb, settings.secret_key)
    surfaces.register(SANDBOX, pages.error_renderer(home=BASE, home_label="Back to the QuickBooks sandbox"))
