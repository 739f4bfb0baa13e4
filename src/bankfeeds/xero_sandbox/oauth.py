"""The sandbox's identity server under ``/sandbox/xero/identity/connect``: authorize (sign-in and
consent pages), token (authorization_code with PKCE, refresh_token with rotation) and revocation.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from bankfeeds.errors import BadRequest
from bankfeeds.kit.http import JSONResponse
from bankfeeds.models import XeroSandboxUser
from bankfeeds.sandbox.web import form_str
from bankfeeds.xero_sandbox import service
from bankfeeds.xero_sandbox.api import BASE, get_xs
from bankfeeds.xero_sandbox.repository import XeroSandboxRepository
from bankfeeds.xero_sandbox.service import AuthorizeRequest, CodeReplayed, OAuthError, RedirectError
from bankfeeds.xero_sandbox.web import current_user, get_pages, page, sign_in_page

IDENTITY = f"{BASE}/identity/connect"
AUTHORIZE = f"{IDENTITY}/authorize"
_AUTHORIZE_FIELDS = ("response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge",
                     "code_challenge_method")

router = APIRouter(include_in_schema=False)


def redirect_to_client(redirect_uri: str, params: dict[str, str]) -> Response:
    parts = urlsplit(redirect_uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + [(k, v) for k, v in params.items() if v != ""]
    return RedirectResponse(urlunsplit(parts._replace(query=urlencode(query))), status_code=302,
                            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


def _params(source: Any) -> dict[str, str]:
    out = {}
    for name in _AUTHORIZE_FIELDS:
        value = source.get(name)
        if isinstance(value, str) and len(value) <= 2000:
            out[name] = value
    return out


def _authorize_url(params: dict[str, str]) -> str:
    return f"{AUTHORIZE}?{urlencode(params)}"


def _consent(request: Request, req: AuthorizeRequest, params: dict[str, str], user: XeroSandboxUser,
             error: str | None = None, status_code: int = 200) -> Response:
    xs = get_xs(request)
    with xs.database.unit_of_work() as session:
        orgs = XeroSandboxRepository(session).organisations_of(user.id)
    return page(request, "consent.html", {
        "client": req.client, "scopes": [(s, service.SCOPES[s]) for s in req.scope], "organisations": orgs,
        "params": params, "user": user, "error": error,
    }, status_code=status_code)


@router.get(AUTHORIZE)
def authorize(request: Request) -> Response:
    xs = get_xs(request)
    service.ensure_seeded(xs)
    params = _params(request.query_params)
    with xs.database.unit_of_work() as session:
        try:
            req = service.parse_authorize(session, params)
        except RedirectError as exc:
            return redirect_to_client(params["redirect_uri"], {"error": exc.error, "error_description":
                                                               exc.description, "state": params.get("state", "")})
    user = current_user(request)
    if user is None:
        return sign_in_page(request, _authorize_url(params), app_name=req.client.name)
    return _consent(request, req, params, user)


@router.post(f"{IDENTITY}/consent")
async def consent(request: Request) -> Response:
    xs = get_xs(request)
    form = await get_pages(request).read_form(request, max_fields=60)
    params = _params(form)
    user = current_user(request)
    with xs.database.unit_of_work() as session:
        try:
            req = service.parse_authorize(session, params)
        except RedirectError as exc:
            return redirect_to_client(params["redirect_uri"], {"error": exc.error, "error_description":
                                                               exc.description, "state": params.get("state", "")})
    if user is None:
        return sign_in_page(request, _authorize_url(params), app_name=req.client.name)
    if form_str(form, "action", max_length=10) != "allow":
        return redirect_to_client(req.redirect_uri, {"error": "access_denied", "state": req.state})
    chosen: list[uuid.UUID] = []
    for raw in form.getlist("tenant"):
        try:
            chosen.append(uuid.UUID(str(raw)))
        except ValueError:
            raise BadRequest("The organisation chosen is not valid; start again from the app.") from None
    if not chosen:
        return _consent(request, req, params, user, "Choose at least one organisation to connect.", 400)
    with xs.database.unit_of_work() as session:
        code = service.grant_consent(session, xs.clock, req, user, list(dict.fromkeys(chosen)))
    return redirect_to_client(req.redirect_uri, {"code": code, "scope": " ".join(req.scope), "state": req.state})


def _oauth_json(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status,
                        headers={"Cache-Control": "no-store", "Pragma": "no-cache", **(headers or {})})


def oauth_error_response(exc: OAuthError) -> Response:
    body = {"error": exc.error}
    if exc.message and exc.message != exc.error:
        body["error_description"] = exc.message
    return _oauth_json(body, exc.status_code, exc.headers)


async def _client_and_form(request: Request) -> tuple[Any, dict[str, str]]:
    xs = get_xs(request)
    service.ensure_seeded(xs)
    try:
        form = await request.form(max_files=0, max_fields=20)
    except Exception:
        raise OAuthError("invalid_request", description="the body must be a form") from None
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    client_id, secret = fields.get("client_id", ""), fields.get("client_secret", "")
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            client_id, _, secret = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthError("invalid_client", 401, "malformed Basic credentials") from None
    with xs.database.unit_of_work() as session:
        client = service.authenticate_client(session, client_id, secret)
    return client, fields


@router.post(f"{IDENTITY}/token")
async def token(request: Request) -> Response:
    xs = get_xs(request)
    try:
        client, fields = await _client_and_form(request)
        grant_type = fields.get("grant_type", "")
        with xs.database.unit_of_work() as session:
            if grant_type == "authorization_code":
                answer = service.exchange_code(session, xs.clock, client, fields.get("code", ""),
                                               fields.get("redirect_uri", ""), fields.get("code_verifier", ""))
            elif grant_type == "refresh_token":
                answer = service.refresh(session, xs.clock, client, fields.get("refresh_token", ""))
            else:
                raise OAuthError("unsupported_grant_type")
    except CodeReplayed as exc:
        if exc.grant_id is not None:
            grant_id = exc.grant_id
            with xs.database.unit_of_work() as session:
                service.revoke_grant(session, xs.clock, grant_id)
        return oauth_error_response(exc)
    except OAuthError as exc:
        return oauth_error_response(exc)
    return _oauth_json(answer)


@router.post(f"{IDENTITY}/revocation")
async def revocation(request: Request) -> Response:
    xs = get_xs(request)
    try:
        client, fields = await _client_and_form(request)
        with xs.database.unit_of_work() as session:
            service.revoke(session, xs.clock, client, fields.get("token", ""))
    except OAuthError as exc:
        return oauth_error_response(exc)
    return Response(status_code=200, headers={"Cache-Control": "no-store"})
