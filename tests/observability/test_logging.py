"""kit/logging.py: JSON lines or readable text, the request's context on every line, secrets scrubbed."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from bankfeeds.kit import logging as structured


@pytest.fixture
def capture() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    yield stream
    logger = logging.getLogger("bankfeeds")
    for handler in list(logger.handlers):
        if handler.get_name() == "bankfeeds-structured":
            logger.removeHandler(handler)
    logger.propagate = True


def test_json_lines_carry_the_context_and_never_a_secret(capture: io.StringIO) -> None:
    structured.configure("json", stream=capture)
    log = logging.getLogger("bankfeeds.test")
    with structured.context("cid-1", company_id="c-1"):
        structured.bind(connection_id="n-1")
        log.info("hello %s", "world", extra={"password": "hunter2hunter2", "signing_secret": "whsec_x",
                                             "api_key": "k", "items": 3})
    log.info("outside")
    first, second = (json.loads(line) for line in capture.getvalue().splitlines())
    assert first["message"] == "hello world" and first["correlationId"] == "cid-1"
    assert first["company_id"] == "c-1" and first["connection_id"] == "n-1" and first["items"] == 3
    assert first["password"] == first["signing_secret"] == first["api_key"] == "[redacted]"
    assert "hunter2" not in capture.getvalue() and "whsec_x" not in capture.getvalue()
    assert "correlationId" not in second and "company_id" not in second


def test_text_lines_for_development(capture: io.StringIO) -> None:
    structured.configure("text", stream=capture)
    with structured.context("cid-2"):
        logging.getLogger("bankfeeds.test").warning("disk %s", "full", extra={"items": 2})
    line = capture.getvalue().strip()
    assert "WARNING" in line and "bankfeeds.test: disk full" in line and "correlationId=cid-2" in line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


def test_request_lines_name_the_route_template_not_the_path_or_query(
        capture: io.StringIO, anon_client: TestClient) -> None:
    structured.configure("json", stream=capture)
    company, connection = uuid.uuid4(), uuid.uuid4()
    r = anon_client.get(f"/link/companies/{company}/connections/{connection}/start?otp=SECRETOTP123")
    assert r.status_code >= 400
    [line] = [json.loads(x) for x in capture.getvalue().splitlines() if '"kind":"request"' in x]
    assert line["route"] == "/link/companies/{companyId}/connections/{connectionId}/start"
    assert line["surface"] == "link" and line["company_id"] == str(company)
    assert line["correlationId"] == r.headers["x-correlation-id"]
    assert "SECRETOTP123" not in capture.getvalue()
