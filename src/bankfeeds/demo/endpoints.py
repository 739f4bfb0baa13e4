"""The demo bank's pages under /demo/bank, and its webhook endpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, cast

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from starlette.datastructures import FormData
from starlette.responses import JSONResponse, RedirectResponse, Response

from bankfeeds.demo import service, webhooks
from bankfeeds.demo.service import DemoBank
from bankfeeds.errors import BadRequest, BankfeedsError
from bankfeeds.kit.surfaces import DEMO, SurfaceRegistry, codat_envelope
from bankfeeds.sandbox.web import Pages, origin_of

BASE = f"{DEMO}/bank"
HERE = Path(__file__).parent
MAX_WEBHOOK_BYTES = 1_000_000

router = APIRouter(include_in_schema=False)


def get_bank(request: Request) -> DemoBank:
    return cast(DemoBank, request.app.state.demo_bank)


def get_pages(request: Request) -> Pages:
    return cast(Pages, request.app.state.demo_pages)


async def get_form(request: Request) -> FormData:
    return await get_pages(request).read_form(request, max_fields=20)


BankDep = Annotated[DemoBank, Depends(get_bank)]
PagesDep = Annotated[Pages, Depends(get_pages)]
FormDep = Annotated[FormData, Depends(get_form)]

NOTICES = {
    "disconnected": "QuickBooks is disconnected: QuickBooks can no longer download your transactions.",
    "nothing": "There was nothing new to send.",
}


@router.get("/demo")
def demo_home() -> Response:
    return RedirectResponse(BASE, status_code=307)


@router.get(BASE)
def online_banking(request: Request, bank: BankDep, pages: PagesDep,
                   notice: Annotated[str | None, Query(max_length=30)] = None,
                   sent: Annotated[int | None, Query(ge=0, le=1_000_000)] = None) -> Response:
    view = service.overview(bank)
    app = service.app_name(view.customer)
    message = NOTICES.get(notice or "")
    if notice == "disconnected" and app != "QuickBooks":
        message = f"{app} is disconnected: {app} gets no more of your transactions."
    if sent:
        message = f"{sent} new transaction{'s' if sent != 1 else ''} sent to {app}."
    return pages.render(request, "bank.html", {"view": view, "notice": message, "base": BASE})


@router.get(f"{BASE}/static/bank.css")
def stylesheet(pages: PagesDep) -> Response:
    css = (HERE / "static" / "bank.css").read_text(encoding="utf-8")
    return pages.headers(Response(css, media_type="text/css"))


@router.post(f"{BASE}/connect")
def connect(bank: BankDep, pages: PagesDep, form: FormDep) -> Response:
    """The "Connect to QuickBooks" / "Connect to Xero" buttons: set up the feed, then send the
    customer to the linkUrl."""
    platform = "gbol" if form.get("platform") == "gbol" else "hcws"
    return pages.redirect(service.connect(bank, platform))


@router.post(f"{BASE}/publish")
def publish(request: Request, bank: BankDep, pages: PagesDep, form: FormDep) -> Response:
    summary = service.publish(bank)
    if summary.failures or (summary.skipped_accounts and not summary.sent):
        view = service.overview(bank)
        problems = summary.failures + [f"{name}: not linked in {service.app_name(view.customer)} yet, nothing sent."
                                       for name in summary.skipped_accounts]
        return pages.render(request, "bank.html", {"view": view, "problems": problems, "base": BASE,
                                                   "notice": f"{summary.sent} sent." if summary.sent else None},
                            status_code=409 if not summary.failures else 502)
    if not summary.sent:
        return pages.redirect(f"{BASE}?notice=nothing")
    return pages.redirect(f"{BASE}?sent={summary.sent}")


@router.post(f"{BASE}/disconnect")
def disconnect(bank: BankDep, pages: PagesDep, form: FormDep) -> Response:
    service.disconnect(bank)
    return pages.redirect(f"{BASE}?notice=disconnected")


@router.post(f"{BASE}/webhooks")
async def receive_webhook(request: Request, bank: BankDep) -> Response:
    body = await request.body()
    if len(body) > MAX_WEBHOOK_BYTES:
        raise BadRequest("The webhook body is too large.")
    from starlette.concurrency import run_in_threadpool

    applied = await run_in_threadpool(webhooks.receive, bank, body, dict(request.headers))
    return JSONResponse({"received": True, "duplicate": not applied})


def _webhook_errors(request: Request, exc: BankfeedsError) -> Response:
    return codat_envelope(request, exc, service="DemoBank")


def mount(app: FastAPI, surfaces: SurfaceRegistry) -> None:
    settings = app.state.settings
    if not settings.demo:
        return  # the demo surfaces (and their advanceable clock) exist only in demo mode
    hub_url = (settings.demo_hub_url or settings.public_url).rstrip("/")
    bank = DemoBank(database=app.state.database, clock=app.state.clock, api_key=settings.demo_api_key,
                    customer_name=settings.demo_customer_name,
                    public_url=settings.public_url, hub_url=hub_url,
                    vault=service.secrets_vault(settings.secret_key))
    pages = Pages(HERE / "templates", secret_key=settings.secret_key, cookie_name="demo_csrf", cookie_path=DEMO,
                  form_action_origins=[origin_of(hub_url), origin_of(settings.public_url)],
                  globals_={"base": BASE, "status_words": service.status_words, "app_name": service.app_name,
                            "plain_account_status": service.PLAIN_ACCOUNT_STATUS,
                            "disconnect_days": settings.source_account_disconnect_days})
    app.state.demo_bank = bank
    app.state.demo_pages = pages
    app.include_router(router)
    surfaces.register(DEMO, pages.error_renderer(home=BASE, home_label="Back to online banking"))
    surfaces.register(f"{BASE}/webhooks", _webhook_errors)
