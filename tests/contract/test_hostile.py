"""Hostile input on every route of every surface (issue 9): each answers a 4xx in its surface's
envelope, the keep-alive connection stays usable, and the database is unchanged.

Routes are enumerated from the app (demo mode, so the QuickBooks sandbox and the demo bank are
mounted too); a new route is covered without touching this file. The cases are sampled, not
crossed: each route gets the path, query and body cases that apply to it, the write routes the
field cases of their body, one route per surface the authentication cases. The requests go over
real HTTP to uvicorn, all through one httpx client; the test prints the count per surface.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from bankfeeds.config import Settings
from bankfeeds.credentials import service as credentials
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Base, Database
from bankfeeds.models import Connection, SandboxCompany
from bankfeeds.webhooks import service as webhooks
from tests.fixtures.app import LiveServer, basic, make_settings
from tests.fixtures.factories import make_company, make_connection, make_source_account

PARTNER_KEY = "test-partner-key"
# Tables a refused request may legitimately touch: failed logins are counted (that is the point).
# Tables a refused request may still write, by design: failed-login counters, when an API key was last
# used (at most once a minute), the console's sign-in throttle, and the Xero sandbox's log of every call
# it answered (refusals included: it is what tests count rate limits with).
MAY_CHANGE = {"login_throttles", "api_keys", "operator_login_throttles", "xero_sandbox_calls"}
# Operations that ignore their body (as Codat's do): body cases do not apply to them.
# Routes that read no body (the console's sign-out without a session just sends the browser to sign in).
BODY_IGNORED = ("/connectionInfo/bankFeedAccounts/credentials", "/bankFeeds/otp", "/disable", "/enable",
                "/secret/rotate", "/resend", "/console/logout")
HUGE_INT = "1" * 4301
DEEP = '{"a":' * 680 + "1" + "}" * 680

# Every route is requested, /readyz included, which reads the database on a connection of its own.
pytestmark = pytest.mark.committed_database


@pytest.fixture
def settings(db_url: str) -> Settings:
    return make_settings(db_url, demo=True)


@dataclass
class Case:
    surface: str
    label: str
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None
    params: str = ""


@dataclass
class World:
    ids: dict[str, str]
    auth: dict[str, str]      # per surface: the valid credentials, so only the hostile part fails
    form_routes: set[str]


def routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path template) of every route, included routers walked."""
    found: list[tuple[str, str]] = []

    def walk(items: list[Any], prefix: str) -> None:
        for r in items:
            if hasattr(r, "original_router"):
                walk(r.original_router.routes, prefix + r.include_context.prefix)
            elif getattr(r, "methods", None):
                for method in sorted(r.methods - {"HEAD"}):
                    found.append((method, prefix + r.path))

    walk(app.router.routes, "")
    return found


def surface_of(path: str) -> str:
    for prefix, name in (("/partners/intuit/idx", "idx"), ("/link", "link"),
                         # The Xero sandbox plays Xero: its APIs and switches answer problem+json, its
                         # token and revocation endpoints OAuth's JSON errors.
                         ("/sandbox/xero/api", "xero-problem"), ("/sandbox/xero/testing", "xero-problem"),
                         ("/sandbox/xero/identity/connect/token", "xero-oauth"),
                         ("/sandbox/xero/identity/connect/revocation", "xero-oauth"), ("/sandbox", "sandbox"),
                         ("/console", "console"),
                         ("/demo/bank/webhooks", "demo-webhooks"), ("/demo", "demo")):
        if path.startswith(prefix):
            return name
    return "public"


def fill(template: str, ids: dict[str, str], override: tuple[str, str] | None = None) -> str:
    path = template
    for name in _params(template):
        value = override[1] if override and override[0] == name else ids.get(name, str(uuid.uuid4()))
        path = path.replace("{" + name + "}", value)
    return path


def _params(template: str) -> list[str]:
    out, rest = [], template
    while "{" in rest:
        start = rest.index("{")
        end = rest.index("}", start)
        out.append(rest[start + 1:end].split(":")[0])
        rest = rest[end + 1:]
    return out


# --- the cases -------------------------------------------------------------------------------------

HOSTILE_PATH = ["%00", "a%00b", "..%2F..%2F..%2Fetc%2Fpasswd", "%ED%A0%80", "%E2%80%AEabc", "%FF%FE", "x" * 3000,
                "%07bell"]
HOSTILE_BODIES: list[tuple[str, bytes, str]] = [
    ("4301-digit integer", ('{"name": "A", "amount": ' + HUGE_INT + "}").encode(), "application/json"),
    ("NaN", b'{"name": "A", "amount": NaN}', "application/json"),
    ("Infinity", b'{"name": "A", "amount": -Infinity}', "application/json"),
    ("1e999999", b'{"name": "A", "amount": 1e999999}', "application/json"),
    ("tiny 1e-999999", b'{"name": "A", "amount": 1e-999999}', "application/json"),
    ("680 nested", DEEP.encode(), "application/json"),
    ("5000 nested arrays", b"[" * 5000 + b"]" * 5000, "application/json"),
    ("lone surrogate", b'{"name": "\\ud800", "description": "x\\udfff"}', "application/json"),
    ("NUL", b'{"name": "a\\u0000b", "id": "\\u0000"}', "application/json"),
    ("control and bidi", b'{"name": "a\\u202eb\\u0007c", "description": "\\u2066x"}', "application/json"),
    ("invalid UTF-8", b'{"name": "\xff\xfe"}', "application/json"),
    ("not JSON", b"{'name': 'A'", "application/json"),
    ("wrong types", b'{"name": 5, "description": [], "tags": "x", "transactions": {}, "url": 7}', "application/json"),
    ("array", b"[1, 2, 3]", "application/json"),
    ("string", b'"hello"', "application/json"),
    ("wrong content type", b"<company><name>A</name></company>", "application/xml"),
    ("oversize", b'{"name": "' + b"a" * 2_100_000 + b'"}', "application/json"),
    ("overlong text", b'{"name": "' + b"a" * 70_000 + b'"}', "application/json"),
]
HOSTILE_FORMS: list[tuple[str, bytes]] = [
    ("NUL field", b"csrf_token=%00&username=a%00"),
    ("invalid UTF-8 field", b"csrf_token=%FF%FE"),
    ("bidi field", b"csrf_token=%E2%80%AE&password=%07"),
    ("overlong field", b"csrf_token=" + b"a" * 5000),
    ("no CSRF", b"username=a&password=b"),
]
QUERY_GENERIC = ["x=%00", "q=%ED%A0%80", "y=" + "a" * 5000, "z=%E2%80%AE"]
QUERY_PAGING = ["page=-1", "page=0", "page=99999999999999999999999999", "pageSize=0", "pageSize=-5",
                "pageSize=1e999999", "page=NaN", "pageSize=" + HUGE_INT]
QUERY_LIST = ["query=name%3Da%00b",
              "query=created%3E0001-01-01T00:00:00%2B01:00", "query=created%3E9999-12-31T23:59:59-01:00",
              "query=" + "%7B" * 680 + "name%3Da", "orderBy=%00", "orderBy=-nope"]
QUERY_EXTRA: dict[str, list[str]] = {
    "/companies": ["tags=k%3Dv%00", "tags=" + "%7B" * 680],
    "/partners/intuit/idx/accounts/{accountId}/transactions": [
        "startDate=9999-12-31T23:59:59-01:00", "endDate=0001-01-01T00:00:00%2B01:00", "startDate=%00",
        "startDate=2026-13-45", "pageNumber=-3", "page=1e999999"],
    "/webhooks/{webhookId}/messages": ["since=9999-12-31T23:59:59-01:00", "since=0001-01-01T00:00:00%2B01:00",
                                        "limit=1e999999", "limit=-1", "status=%00",
                                        "limit=" + HUGE_INT],
}
TEMPLATES: dict[str, dict[str, Any]] = {
    "/companies": {"name": "A", "description": "d", "tags": {"k": "v"}},
    "/companies/{companyId}": {"name": "A", "description": "d", "tags": {"k": "v"}},
    "/companies/{companyId}/connections": {"platformKey": "hcws"},
    "/companies/{companyId}/connections/{connectionId}/push/bankAccounts/{accountId}/bankTransactions": {
        "accountId": "acc-1", "transactions": [{
            "id": "t1", "date": "2026-11-23T10:00:00", "description": "d", "counterparty": "c", "reference": "r",
            "amount": 1.5, "balance": 2.5, "transactionType": "Credit"}]},
    "/companies/{companyId}/connections/{connectionId}/connectionInfo/bankFeedAccounts": {
        "id": "acc-9", "accountName": "n", "accountType": "checking", "accountNumber": "1", "currency": "USD",
        "balance": 1.0, "modifiedDate": "2026-11-20T00:00:00Z"},
    "/companies/{companyId}/connections/{connectionId}/connectionInfo/bankFeedAccounts/{accountId}": {
        "id": "acc-1", "accountName": "n", "balance": 1.0},
    "/companies/{companyId}/connections/{connectionId}/bankFeedAccounts/mapping": {
        "sourceAccountId": "acc-1", "targetAccountId": "x", "feedStartDate": "2026-11-01"},
    "/webhooks": {"url": "https://hooks.example.com/in", "eventTypes": ["company.created"]},
    "/webhooks/{webhookId}/recover": {"since": "2026-11-20T00:00:00Z"},
    "/webhooks/{webhookId}/replay-missing": {"since": "2026-11-20T00:00:00Z"},
}
# Values a field must refuse, whatever the field: raw JSON text to splice in.
LEAF_VALUES = [
    ("4301-digit integer", HUGE_INT), ("1e999999", "1e999999"), ("-1e999999", "-1e999999"),
    ("lone surrogate", '"\\ud800"'), ("NUL", '"a\\u0000"'), ("bidi", '"\\u202e"'), ("bell", '"\\u0007"'),
    ("overlong", '"' + "a" * 70_000 + '"'),
]
# For date fields only (elsewhere these are plain text).
DATE_VALUES = [("date overflowing +01:00", '"0001-01-01T00:00:00+01:00"'),
               ("date overflowing -01:00", '"9999-12-31T23:59:59-01:00"'), ("year 0", '"0000-01-01"'),
               ("not a date", '"2026-02-30T25:61:00"')]
DATE_FIELDS = ("date", "since", "modifiedDate", "feedStartDate")
# Per-field length limits (item 3): the text one character over the limit.
OVER_LIMIT = {"transactions.0.description": 2001, "transactions.0.counterparty": 256,
              "transactions.0.reference": 256, "transactions.0.id": 201, "description": 4001, "id": 201,
              "name": 501, "url": 2049, "accountName": 501, "platformKey": 101, "sourceAccountId": 201}


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _leaves(v, (*path, i))
    else:
        yield path


def _splice(template: dict[str, Any], leaf: tuple[Any, ...], raw: str) -> bytes:
    marker = "__HOSTILE__"
    doc = json.loads(json.dumps(template))
    node = doc
    for key in leaf[:-1]:
        node = node[key]
    node[leaf[-1]] = marker
    return json.dumps(doc).replace(f'"{marker}"', raw).encode("utf-8", "surrogatepass")


def build_cases(app: FastAPI, world: World) -> list[Case]:
    cases: list[Case] = []
    ids = world.ids
    for method, template in routes(app):
        surface = surface_of(template)
        if template in ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/healthz") and method == "GET":
            cases.append(Case("docs", "x=NUL", method, template, params="x=%00"))
            continue
        auth = dict(world.auth.get(surface, {}))
        base = fill(template, ids)
        # Path: one hostile value in each of the first and last parameters.
        names = _params(template)
        for name in {names[0], names[-1]} if names else set():
            for value in HOSTILE_PATH:
                cases.append(Case(surface, f"path {name}={value[:12]}", method, fill(template, ids, (name, value)),
                                  dict(auth)))
        if method == "GET":
            for q in QUERY_GENERIC + QUERY_EXTRA.get(template, []):
                cases.append(Case(surface, f"query {q[:30]}", method, base, dict(auth), params=q))
            lists = ("/companies", "/companies/{companyId}/push", "/companies/{companyId}/connections")
            if template in lists or surface == "idx":
                for q in QUERY_PAGING + (QUERY_LIST if template in lists else []):
                    cases.append(Case(surface, f"list {q[:30]}", method, base, dict(auth), params=q))
            continue
        if method == "DELETE":
            cases.append(Case(surface, "query NUL", method, base, dict(auth), params="x=%00"))
            continue
        # Writes.
        if surface in ("link", "sandbox", "demo"):
            for label, form in HOSTILE_FORMS:
                cases.append(Case(surface, f"form {label}", method, base,
                                  {**auth, "Content-Type": "application/x-www-form-urlencoded"}, form))
            cases.append(Case(surface, "JSON to a form", method, base, {**auth, "Content-Type": "application/json"},
                              b'{"a": 1e999999}'))
            continue
        if any(template.endswith(s) for s in BODY_IGNORED):
            cases.append(Case(surface, "query NUL", method, base, dict(auth), params="x=%00"))
            continue
        for label, body, ctype in HOSTILE_BODIES:
            cases.append(Case(surface, f"body {label}", method, base, {**auth, "Content-Type": ctype}, body))
        shape = TEMPLATES.get(template)
        if shape is not None:
            for leaf in _leaves(shape):
                values = LEAF_VALUES + (DATE_VALUES if str(leaf[-1]) in DATE_FIELDS else [])
                for label, raw in values:
                    cases.append(Case(surface, f"field {'.'.join(map(str, leaf))} {label}", method, base,
                                      {**auth, "Content-Type": "application/json"}, _splice(shape, leaf, raw)))
                limit = OVER_LIMIT.get(".".join(map(str, leaf)))
                if limit is not None:
                    cases.append(Case(surface, f"field {leaf[-1]} over its limit", method, base,
                                      {**auth, "Content-Type": "application/json"},
                                      _splice(shape, leaf, '"' + "a" * limit + '"')))
    # Authentication, malformed, on one route of each authenticated surface.
    for surface, path in (("public", "/companies"), ("idx", "/partners/intuit/idx/accounts")):
        good = world.auth[surface]
        for label, headers in (
            ("no auth", {}), ("Basic alone", {"Authorization": "Basic"}), ("Basic !!!", {"Authorization": "Basic !!!"}),
            ("Bearer", {"Authorization": "Bearer abc"}), ("Basic NUL", {"Authorization": "Basic AA=="}),
            ("Basic 10k", {"Authorization": "Basic " + "A" * 10_000}),
            ("Basic colon", {"Authorization": "Basic " + base64.b64encode(b":").decode()}),
            ("bad partner key", {**good, "X-Partner-Key": "!!!"}),
            ("partner key only", {"X-Partner-Key": good.get("X-Partner-Key", "x")}),
        ):
            if surface == "public" and "partner" in label:
                continue
            cases.append(Case(surface, f"auth {label}", "GET", path, headers))
    # Methods no route has.
    for path in ("/companies", "/webhooks", "/partners/intuit/idx/accounts"):
        cases.append(Case(surface_of(path), "method PUT", "PUT", path, dict(world.auth[surface_of(path)])))
    return cases


# --- checks ------------------------------------------------------------------------------------------

SERVICES = {"public": "PublicApi", "docs": "PublicApi", "idx": "PullApi", "demo-webhooks": "DemoBank"}


def envelope_ok(case: Case, r: httpx.Response) -> bool:
    if case.surface == "xero-problem":
        body = r.json() if r.headers.get("content-type", "").startswith("application/problem+json") else {}
        return bool(body.get("status") == r.status_code and body.get("type"))
    if case.surface == "xero-oauth":
        body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
        return bool(body.get("error"))
    service = SERVICES.get(case.surface)
    if service is None:  # pages answer in HTML
        return r.headers.get("content-type", "").startswith("text/html")
    try:
        body = r.json()
    except ValueError:
        return False
    return bool(body.get("statusCode") == r.status_code and body.get("service") == service
                and body.get("correlationId"))


def dump(database: Database) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    with database.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name in MAY_CHANGE:
                continue
            rows = conn.execute(text(f'SELECT * FROM "{table.name}"')).all()
            out[table.name] = sorted(repr(tuple(row)) for row in rows)
    return out


def _client_addr(r: httpx.Response) -> Any:
    stream = r.extensions.get("network_stream")
    try:
        return stream.get_extra_info("client_addr") if stream is not None else None
    except OSError:
        return "closed"  # the server closed the connection after answering


# --- the test ------------------------------------------------------------------------------------------


@pytest.fixture
def world(app: FastAPI, database: Database, clock: FrozenClock, settings: Settings, api_key: str) -> World:
    company = make_company(database, clock)
    connection = make_connection(database, clock, company, "hcws", status="Linked")
    make_source_account(database, clock, connection, "acc-1")
    with database.unit_of_work() as session:
        conn = session.get(Connection, connection.id)
        assert conn is not None
        pair = credentials.generate(session, clock, settings, conn)
        consumer, _ = webhooks.add(session, clock, settings, "https://hooks.example.com/in", ["company.created"])
    idx_auth = {"Authorization": "Basic " + base64.b64encode(f"{pair.username}:{pair.password}".encode()).decode(),
                "X-Partner-Key": base64.b64encode(PARTNER_KEY.encode()).decode()}
    ids = {"companyId": str(company.id), "connectionId": str(connection.id), "accountId": "acc-1",
           "webhookId": str(consumer.id), "slug": "test-bank"}
    return World(ids=ids, auth={"public": {"Authorization": basic(api_key)}, "idx": idx_auth}, form_routes=set())


def test_hostile_input_on_every_route(app: FastAPI, database: Database, world: World) -> None:
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        # Pages that seed their own demo data on first visit do it now, before the "before" dump.
        for path in ("/sandbox/qbo", "/demo/bank"):
            client.get(path)
        with database.unit_of_work() as session:
            sandbox_company = session.scalars(select(SandboxCompany.id)).first()
        world.ids["company_id"] = str(sandbox_company or uuid.uuid4())
        cases = build_cases(app, world)
        # The Xero sandbox seeds its demo organisations on its first request: before the "before" dump.
        client.get(server.url + "/sandbox/xero")
        before = dump(database)
        per_surface: Counter[str] = Counter()
        server_errors: list[str] = []
        failures: list[str] = []
        dropped: dict[str, list[str]] = defaultdict(list)
        for case in cases:
            url = case.path + (f"?{case.params}" if case.params else "")
            request = client.build_request(case.method, url, headers=case.headers, content=case.content)
            request.url = httpx.URL(server.url + url)  # keep the path exactly as written (%00 and all)
            per_surface[case.surface] += 1
            try:
                r = client.send(request)
            except httpx.TransportError as exc:  # the server dropped the connection mid-answer
                dropped[case.surface].append(f"{case.method} {case.path[:80]} [{case.label}]: {exc!r}")
                continue
            where = f"{case.method} {case.path[:80]} [{case.label}] -> {r.status_code}"
            answered_on = _client_addr(r)
            if r.status_code >= 500:
                server_errors.append(where + " " + r.text[:200])
            elif case.surface == "console" and r.status_code == 303 and \
                    r.headers.get("location", "").startswith("/console/login"):
                pass  # a console page without a session sends the browser to sign in, body unread
            elif not 400 <= r.status_code < 500:
                failures.append(where + " (not a 4xx)")
            elif not envelope_ok(case, r):
                failures.append(where + f" (envelope: {r.text[:120]!r})")
            # The same client's next request is served, on the same connection (a 413 may close
            # it: the server does not read a body it refused by its declared length).
            try:
                ok = client.get("/healthz")
            except httpx.TransportError as exc:
                dropped[case.surface].append(f"{where}: next request failed: {exc!r}")
                continue
            assert ok.status_code == 200, where
            if _client_addr(ok) != answered_on and r.status_code != 413:
                dropped[case.surface].append(where)
        after = dump(database)
    summary = {s: per_surface[s] for s in sorted(per_surface)}
    print(f"\nhostile cases per surface: {summary}; total {sum(per_surface.values())}; "
          f"5xx: {len(server_errors)}; connections dropped: { {k: len(v) for k, v in dropped.items()} }")
    assert not server_errors, server_errors[:40]
    assert not failures, failures[:60]
    changed = [t for t in before if before[t] != after[t]]
    assert not changed, changed
    assert not any(dropped.values()), {k: v[:5] for k, v in dropped.items()}
