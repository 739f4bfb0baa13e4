"""Rendering of the hosted pages: language, branding, security headers, the error page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from bankfeeds.config import Settings
from bankfeeds.errors import BankfeedsError
from bankfeeds.kit.surfaces import LINK, correlation_id
from bankfeeds.link import i18n

# The browser tab's title of the pages shown in both languages, in the visitor's language.
DEFAULT_TITLE = "QuickBooks Online Bank Feeds"
TITLES = {"credentials.html": "Your QuickBooks credentials", "cancelled.html": "Connecting QuickBooks Online"}
LANG_COOKIE = "bankfeeds_lang"
LANG_COOKIE_AGE = 365 * 24 * 3600
PREFIX = LINK


@dataclass(frozen=True)
class Language:
    code: str
    # Chosen with ?lang= on this request: remembered in a cookie.
    explicit: bool


def language(request: Request) -> Language:
    query = i18n.supported(request.query_params.get("lang"))
    code = i18n.choose(query, request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))
    return Language(code, query is not None)


def logo_url(settings: Settings) -> str | None:
    """The configured logo if it is an http(s) URL or a path on this server; anything else is dropped."""
    url = (settings.institution_logo_url or "").strip()
    if url.startswith("/") and not url.startswith("//"):
        return url
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        return url
    return None


def security_headers(settings: Settings, *, cache: bool = False) -> dict[str, str]:
    img = "'self'"
    logo = logo_url(settings)
    if logo and not logo.startswith("/"):
        parts = urlsplit(logo)
        img += f" {parts.scheme}://{parts.netloc}"
    headers = {
        "Content-Security-Policy": (
            f"default-src 'none'; script-src 'self'; style-src 'self'; img-src {img}; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'"
        ),
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if not cache:
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"
    return headers


def _secure(settings: Settings) -> bool:
    return settings.public_url.startswith("https://")


def remember_language(response: Response, settings: Settings, lang: Language) -> None:
    if lang.explicit:
        response.set_cookie(LANG_COOKIE, lang.code, max_age=LANG_COOKIE_AGE, path=PREFIX,
                            httponly=True, samesite="lax", secure=_secure(settings))


def set_session_cookie(response: Response, settings: Settings, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path=PREFIX, httponly=True, samesite="lax",
                        secure=_secure(settings))


def clear_session_cookie(response: Response, settings: Settings, name: str) -> None:
    response.delete_cookie(name, path=PREFIX, httponly=True, samesite="lax", secure=_secure(settings))


def _base_context(settings: Settings, lang: str) -> dict[str, Any]:
    return {"lang": lang, "institution": settings.institution_name, "logo_url": logo_url(settings)}


def _switch_links(path: str, current: str) -> list[tuple[str, str, str]]:
    return [(code, i18n.NAMES[code], f"{path}?lang={code}") for code in i18n.LANGUAGES]


def render(
    request: Request, settings: Settings, lang: Language, template: str, context: dict[str, Any],
    *, status: int = 200,
) -> HTMLResponse:
    """A page in one language, with links that reload it in the other."""
    env = i18n.environment(lang.code)
    html = env.get_template(template).render(
        **_base_context(settings, lang.code), switch_links=_switch_links(request.url.path, lang.code),
        fragment=False, **context,
    )
    response = HTMLResponse(html, status_code=status,
                            headers={**security_headers(settings), "Content-Language": lang.code})
    remember_language(response, settings, lang)
    return response


def render_dual(
    settings: Settings, lang: Language, template: str, context: dict[str, Any], *, status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """A page that cannot be fetched again, in both languages; the switch is an in-page anchor."""
    alt = next(code for code in i18n.LANGUAGES if code != lang.code)
    parts = {}
    for code in (lang.code, alt):
        links = [(c, i18n.NAMES[c], f"#lang-{c}") for c in i18n.LANGUAGES]
        parts[code] = Markup(i18n.environment(code).get_template(template).render(  # noqa: S704
            **_base_context(settings, code), switch_links=links, fragment=True, **context,
        ))
    title = f"{i18n.translations(lang.code).gettext(TITLES.get(template, DEFAULT_TITLE))} · {settings.institution_name}"
    html = i18n.environment(lang.code).get_template("dual.html").render(
        **_base_context(settings, lang.code), title=title, alt_lang=alt,
        main_html=parts[lang.code], alt_html=parts[alt],
    )
    response = HTMLResponse(html, status_code=status, headers={
        **(headers or {}), **security_headers(settings), "Content-Language": lang.code})
    remember_language(response, settings, lang)
    return response


def render_error(request: Request, exc: BankfeedsError) -> Response:
    """Every error under /link as a page in the visitor's language (both, switchable)."""
    settings = cast(Settings, request.app.state.settings)
    status = exc.status_code
    context = {"status_code": status, "reference": correlation_id(request)}
    return render_dual(settings, language(request), "error.html", context, status=status,
                       headers=dict(exc.headers))
