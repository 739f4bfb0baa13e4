"""Server-rendered pages of the sandbox and the demo bank: templates, CSRF, security headers, errors.

No JavaScript at all; forms post back with a CSRF token tied to an HttpOnly, SameSite=Strict cookie
(``kit.csrf.CookieTokens``: the form value is an HMAC of the cookie, not to be forged without the key).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from bankfeeds.errors import BadRequest, BankfeedsError
from bankfeeds.kit.csrf import CookieTokens
from bankfeeds.kit.surfaces import Renderer

CSRF_FIELD = "csrf_token"
_CSRF_TTL_SECONDS = 12 * 3600


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class Pages:
    def __init__(
        self,
        template_dir: Path,
        *,
        secret_key: str,
        cookie_name: str,
        cookie_path: str,
        form_action_origins: Iterable[str] = (),
        globals_: dict[str, Any] | None = None,
    ) -> None:
        self.env = Environment(
            loader=FileSystemLoader(str(template_dir)),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals.update({"money": money, **(globals_ or {})})
        self._csrf = CookieTokens(secret_key, cookie_name)
        self.cookie_name = cookie_name
        self.cookie_path = cookie_path
        extra = " ".join(sorted({o for o in form_action_origins if o}))
        self.csp = (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"form-action 'self'{' ' + extra if extra else ''}; frame-ancestors 'none'; base-uri 'none'; "
            "object-src 'none'"
        )

    # -- CSRF -------------------------------------------------------------------------------
    def check_csrf(self, request: Request, form: FormData) -> None:
        self._csrf.require(
            request.cookies.get(self.cookie_name), form.get(CSRF_FIELD),
            "This form has expired or did not come from this site (its security token is missing or "
            "wrong). Go back, reload the page and submit it again.",
        )

    async def read_form(self, request: Request, *, max_fields: int) -> FormData:
        """The posted form, CSRF-checked. A body that is no form is a 400."""
        try:
            form = await request.form(max_files=0, max_fields=max_fields)
        except Exception:
            raise BadRequest("The form could not be read; submit it again from the page.") from None
        self.check_csrf(request, form)
        return form

    # -- responses --------------------------------------------------------------------------
    def headers(self, response: Response) -> Response:
        response.headers["Content-Security-Policy"] = self.csp
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response

    def render(
        self, request: Request, template: str, context: dict[str, Any] | None = None, *, status_code: int = 200,
        headers: dict[str, str] | None = None,
    ) -> HTMLResponse:
        cookie, new = self._csrf.cookie(request.cookies.get(self.cookie_name))
        ctx = {"request": request, "csrf_token": self._csrf.token_for(cookie), "csrf_field": CSRF_FIELD}
        ctx.update(context or {})
        html = self.env.get_template(template).render(**ctx)
        response = HTMLResponse(html, status_code=status_code, headers=headers)
        if new:
            response.set_cookie(
                self.cookie_name, cookie, max_age=_CSRF_TTL_SECONDS, path=self.cookie_path,
                httponly=True, samesite="strict", secure=request.url.scheme == "https",
            )
        self.headers(response)
        return response

    def redirect(self, url: str) -> Response:
        return self.headers(RedirectResponse(url, status_code=303))

    def error_renderer(self, *, home: str, home_label: str) -> Renderer:
        """A surface renderer: every error of this surface as an HTML page (never a stack trace)."""

        def render(request: Request, exc: BankfeedsError) -> Response:
            status = exc.status_code
            try:
                title = HTTPStatus(status).phrase
            except ValueError:
                title = "Error"
            message = exc.message if status < 500 else (
                exc.message if status in (502, 503, 504) else
                "Something went wrong on our side. Nothing was changed; try again."
            )
            return self.render(
                request, "error.html",
                {"status": status, "title": title, "message": message,
                 "details": [i.message for i in exc.errors][:10], "home": home, "home_label": home_label},
                status_code=status, headers=dict(exc.headers),
            )

        return render


_SYMBOLS = {"USD": "$", "CAD": "CA$", "GBP": "£", "EUR": "€", "AUD": "A$"}


def money(value: Decimal, currency: str | None = None) -> str:
    """``$1,234.50`` / ``-$12.00``: exact, two places, for display only."""
    sign = "-" if value < 0 else ""
    symbol = _SYMBOLS.get((currency or "").upper(), f"{currency} " if currency else "")
    return f"{sign}{symbol}{abs(value):,.2f}"


def form_str(form: FormData, name: str, *, max_length: int = 500) -> str:
    """A text field of a form, stripped; files and over-long values count as missing."""
    value = form.get(name)
    if not isinstance(value, str):
        return ""
    value = value.strip()
    return value if len(value) <= max_length else ""
