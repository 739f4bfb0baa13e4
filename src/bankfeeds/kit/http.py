"""HTTP plumbing shared by every surface: exact JSON responses, body parsing, size limits; and
the reading of a ``Retry-After`` answer header, for every outbound client."""

from __future__ import annotations

from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar, cast

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bankfeeds.errors import BadRequest, PayloadTooLarge, ValidationItem
from bankfeeds.kit import jsonutil

M = TypeVar("M", bound=BaseModel)


class JSONResponse(Response):
    """Renders Decimals as JSON numbers, exactly (no float on the way out)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        if isinstance(content, BaseModel):
            content = content.model_dump(mode="python", by_alias=True, exclude_unset=False)
        return jsonutil.dumps(content).encode("utf-8")


class PlainJSONResponse(Response):
    """A JSON response whose content is plain JSON (``jsonutil.dumps_plain``: no date-time objects),
    rendered at C speed."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return jsonutil.dumps_plain(content)


def wire(model: BaseModel, *, exclude_none: bool = False, exclude_unset: bool = False) -> dict[str, Any]:
    """A wire schema as a plain dict with camelCase keys, Decimals kept; ``exclude_unset`` leaves out
    the fields (at every level) that were not given, for keys the wire only carries when known."""
    return model.model_dump(mode="python", by_alias=True, exclude_none=exclude_none, exclude_unset=exclude_unset)


def validation_items(exc: ValidationError) -> list[ValidationItem]:
    items = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(part) for part in err["loc"])
        items.append(ValidationItem(item_id=loc or None, message=err["msg"], validator_name=err["type"]))
    return items


def parse_model(raw: bytes, model: type[M], *, what: str = "request body") -> M:
    """Parse a JSON body into a wire schema; malformed JSON or a wrong shape is a 400."""
    if not raw.strip():
        raise BadRequest(f"The {what} is empty; a JSON object is expected.")
    # A model may offer a fast lane: the same result for the bodies it vouches for, None for the
    # others (which the reference parse and validation below decide, wording any 400).
    fast = getattr(model, "from_json_fast", None)
    if fast is not None:
        found = fast(raw)
        if found is not None:
            return cast(M, found)
    data = jsonutil.loads(raw)
    return validate_model(data, model, what=what)


def validate_model(data: Any, model: type[M], *, what: str = "request body") -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        items = validation_items(exc)
        summary = "; ".join(f"{i.item_id}: {i.message}" if i.item_id else i.message for i in items[:5])
        raise BadRequest(f"The {what} is invalid: {summary}", errors=items) from None


class BodySizeLimit:
    """Refuses bodies over ``max_bytes`` with 413 before the app reads them whole."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.max_bytes:
                    raise PayloadTooLarge(self._message())
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise PayloadTooLarge(self._message())
            return message

        await self.app(scope, limited, send)

    def _message(self) -> str:
        return f"The request body is larger than the {self.max_bytes} bytes this server accepts."


def json_body(model: type[M]) -> Any:
    """A dependency that parses the raw body exactly (Decimals kept) into ``model``."""
    async def dependency(request: Request) -> M:
        return parse_model(await request.body(), model)

    dependency.__name__ = f"json_body_{model.__name__}"
    return dependency


def optional_json_body(model: type[M]) -> Any:
    """Like json_body, but an empty body is an empty object (operations whose body is optional)."""
    async def dependency(request: Request) -> M:
        raw = await request.body()
        if not raw.strip():
            return validate_model({}, model)
        return parse_model(raw, model)

    dependency.__name__ = f"optional_json_body_{model.__name__}"
    return dependency


async def read_body(receive: Receive) -> bytes | None:
    """The whole request body from ``receive``; None if the client went away before sending it."""
    chunks = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        if message["type"] == "http.request":
            chunks.extend(message.get("body", b""))
            if not message.get("more_body", False):
                return bytes(chunks)


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of a request header (``name`` lower-case), as Starlette's ``headers.get``."""
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the already-read ``body`` to the app once, then the real one's messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def retry_after(raw: str | None, *, wall_now: datetime, limit: timedelta) -> timedelta | None:
    """How long a ``Retry-After`` header asks to wait: delta-seconds, or an HTTP date (real time,
    compared with ``wall_now``, an aware datetime); at most ``limit``, never negative. None when
    absent or unreadable (the caller keeps its own schedule)."""
    if not raw:
        return None
    raw = raw.strip()
    if raw.isascii() and raw.isdigit():
        seconds = int(raw[:12])  # more digits than that is past any limit anyway
        return min(timedelta(seconds=seconds), limit)
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000": RFC 5322's unknown zone; HTTP dates are GMT
        when = when.replace(tzinfo=wall_now.tzinfo)
    return min(max(timedelta(0), when - wall_now), limit)
