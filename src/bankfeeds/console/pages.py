"""Rendering of the console: language (EN/FR), security headers, errors as pages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from bankfeeds.config import Settings
from bankfeeds.console.i18n import FR
from bankfeeds.errors import BankfeedsError
from bankfeeds.kit.surfaces import CONSOLE, correlation_id
from bankfeeds.link import i18n as link_i18n

HERE = Path(__file__).parent
PREFIX = CONSOLE
LANG_COOKIE = "bankfeeds_console_lang"
SESSION_COOKIE = "bankfeeds_console"
LOGIN_COOKIE = "bankfeeds_console_login"
LANGUAGES = ("en", "fr")
REASONS = {
    "disconnected": "Disconnected",
    "near_disconnection": "Close to inactivity disconnection",
    "statement_rejected": "Statement rejected",
    "push_failed": "Last push failed",
    "backlog_stale": "Transactions waiting over a day",
    "balance_chain_broken": "Balance chain broken",
}


@dataclass(frozen=True)
class Language:
    code: str
    explicit: bool


def language(request: Request) -> Language:
    query = link_i18n.supported(request.query_params.get("lang"))
    code = link_i18n.choose(query, request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))
    return Language(code, query is not None)


def translator(code: str) -> Callable[..., str]:
    def t(text: str, **values: Any) -> str:
        out = FR.get(text, text) if code == "fr" else text
        return out.format(**values) if values else out

    return t


def _when(value: datetime | None) -> str:
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def _age(seconds: int | None, code: str) -> str:
    if seconds is None:
        return "—"
    t = translator(code)
    if seconds < 3600:
        return t("{n} min", n=seconds // 60)
    if seconds < 2 * 86400:
        return t("{n} h", n=seconds // 3600)
    return t("{n} days", n=seconds // 86400)


@lru_cache(maxsize=len(LANGUAGES))
def environment(code: str) -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True, undefined=StrictUndefined)
    t = translator(code)
    env.globals.update(_=t, when=_when, age=lambda s: _age(s, code), reason=lambda r: t(REASONS.get(r, r)),
                       prefix=PREFIX)
    return env


def secure(settings: Settings) -> bool:
    return settings.public_url.startswith("https://")


def headers(lang: str | None = None) -> dict[str, str]:
    out = {
        "Content-Security-Policy": ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                                    "frame-ancestors 'none'; base-uri 'none'"),
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cache-Control": "no-store",
    }
    if lang:
        out["Content-Language"] = lang
    return out


def render(request: Request, lang: Language, template: str, context: dict[str, Any], *,
           status: int = 200) -> HTMLResponse:
    settings = cast(Settings, request.app.state.settings)
    switch = [(code, link_i18n.NAMES[code], f"{request.url.path}?{_query_with(request, code)}") for code in LANGUAGES]
    html = environment(lang.code).get_template(template).render(
        **{"operator": None, "csrf_token": "", **context},
        lang=lang.code, switch_links=switch, institution=settings.institution_name, path=request.url.path)
    response = HTMLResponse(html, status_code=status, headers=headers(lang.code))
    if lang.explicit:
        response.set_cookie(LANG_COOKIE, lang.code, max_age=365 * 86400, path=PREFIX, httponly=True,
                            samesite="lax", secure=secure(settings))
    return response


def _query_with(request: Request, code: str) -> str:
    from urllib.parse import urlencode

    params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    return urlencode([*params, ("lang", code)])


def _signed_in(request: Request) -> Any:
    """Who is signed in, for the menu of an error page; None if nobody or the database is unreachable."""
    from bankfeeds.console import service
    from bankfeeds.kit.db import Database

    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        with cast(Database, request.app.state.database).unit_of_work() as session:
            return service.peek(session, request.app.state.clock, token)
    except Exception:
        return None


def render_error(request: Request, exc: BankfeedsError) -> Response:
    """Errors under /console: not signed in goes to the sign-in page; anything else is a page."""
    if exc.status_code == 401:
        return RedirectResponse(f"{PREFIX}/login", status_code=303, headers=headers())
    lang = language(request)
    t = translator(lang.code)
    titles = {403: t("Not allowed"), 404: t("Not found"), 429: t("Too many attempts")}
    message = t(exc.message) if exc.status_code < 500 else t("An unexpected error occurred.")
    context: dict[str, Any] = {
        "status_code": exc.status_code, "title": titles.get(exc.status_code, t("Something went wrong")),
        "message": message, "reference": correlation_id(request)}
    signed = _signed_in(request)
    if signed is not None:
        context.update(operator=signed.operator, csrf_token=signed.session.csrf)
    response = render(request, lang, "error.html", context, status=exc.status_code)
    for key, value in exc.headers.items():
        response.headers[key] = value
    return response
