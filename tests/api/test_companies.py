from __future__ import annotations

import uuid
import warnings

from fastapi.testclient import TestClient
from sqlalchemy.exc import SAWarning

from tests.fixtures.app import basic


def create(client: TestClient, **body: object) -> dict:
    r = client.post("/companies", json={"name": "Bank of Dave", **body})
    assert r.status_code == 200, r.text
    return r.json()


def test_create_company_shape(client: TestClient) -> None:
    body = create(client, description="Early access", tags={"region": "uk"})
    uuid.UUID(body["id"])
    assert body["name"] == "Bank of Dave"
    assert body["description"] == "Early access"
    assert body["tags"] == {"region": "uk"}
    assert body["redirect"].startswith("http://testserver/")
    assert body["dataConnections"] == []
    assert body["products"] == ["bank-feeds"]
    assert body["created"].endswith("Z")


def test_name_forbidden_characters_are_stripped(client: TestClient) -> None:
    assert create(client, name="Company (Codat[1])")["name"] == "Company Codat1"


def test_create_rejects_bad_bodies_and_writes_nothing(client: TestClient) -> None:
    for raw in [b"{", b"[]", b'{"name": 5}', b'{"description": "x"}', b'{"name": ""}', b"",
                b'{"name": "x", "tags": {"a": "' + b"v" * 101 + b'"}}']:
        r = client.post("/companies", content=raw, headers={"Content-Type": "application/json"})
        assert r.status_code == 400, (raw, r.text)
        err = r.json()
        assert err["statusCode"] == 400 and err["service"] == "PublicApi" and err["error"]
        assert err["canBeRetried"] == "Unknown" and err["detailedErrorCode"] == 0 and err["correlationId"]
    assert client.get("/companies").json()["totalResults"] == 0


def test_get_replace_update_delete(client: TestClient) -> None:
    company = create(client, description="d", tags={"a": "1"})
    cid = company["id"]
    assert client.get(f"/companies/{cid}").json()["name"] == "Bank of Dave"

    r = client.patch(f"/companies/{cid}", json={"name": "Renamed"})
    assert r.status_code == 200
    assert r.json()["name"] == "Renamed" and r.json()["description"] == "d" and r.json()["tags"] == {"a": "1"}

    r = client.put(f"/companies/{cid}", json={"name": "Replaced"})
    assert r.status_code == 200
    assert r.json()["description"] is None and r.json()["tags"] == {}

    assert client.delete(f"/companies/{cid}").status_code == 204
    r = client.get(f"/companies/{cid}")
    assert r.status_code == 404
    assert r.json()["error"] == f"No company was found with ID {cid}"
    assert client.delete(f"/companies/{cid}").status_code == 404


def test_unknown_and_malformed_ids_are_4xx(client: TestClient) -> None:
    assert client.get(f"/companies/{uuid.uuid4()}").status_code == 404
    r = client.get("/companies/not-a-uuid")
    assert r.status_code in (400, 404) and r.json()["statusCode"] == r.status_code


def test_list_paging_query_order_and_links(client: TestClient) -> None:
    for name in ["Alpha", "Beta", "Gamma", "Delta", "Epsilon"]:
        create(client, name=name, tags={"region": "uk" if name < "E" else "us"})
    page = client.get("/companies", params={"page": 2, "pageSize": 2, "orderBy": "name"}).json()
    assert [c["name"] for c in page["results"]] == ["Delta", "Epsilon"]
    assert page["pageNumber"] == 2 and page["pageSize"] == 2 and page["totalResults"] == 5
    assert page["_links"]["self"]["href"] == "/companies"
    assert "page=3" in page["_links"]["next"]["href"] and "page=1" in page["_links"]["previous"]["href"]

    names = lambda r: sorted(c["name"] for c in r.json()["results"])  # noqa: E731
    assert names(client.get("/companies", params={"query": "name=Beta"})) == ["Beta"]
    assert names(client.get("/companies", params={"query": "name~ta"})) == ["Beta", "Delta"]
    assert names(client.get("/companies", params={"query": "{name=Beta || name=Gamma} && name!=Gamma"})) == ["Beta"]
    assert names(client.get("/companies", params={"orderBy": "-name", "pageSize": 1})) == ["Gamma"]
    assert names(client.get("/companies", params={"tags": "region=us"})) == ["Epsilon", "Gamma"]
    assert names(client.get("/companies", params={"tags": "region!=us && region~k"})) == ["Alpha", "Beta", "Delta"]


def test_malformed_queries_are_400(client: TestClient) -> None:
    for q in ["name", "name=", "{name=a", "name=a &&", "nope=1", "created>yesterday", "name=a}"]:
        r = client.get("/companies", params={"query": q})
        assert r.status_code == 400, (q, r.text)
        assert "query" in r.json()["error"].lower()
    for params in [{"page": 0}, {"pageSize": 0}, {"pageSize": 5001}, {"page": "x"}, {"orderBy": "nope"}]:
        assert client.get("/companies", params=params).status_code == 400, params


def test_auth_is_codat_basic_api_key(anon_client: TestClient, client: TestClient, api_key: str) -> None:
    for header in [None, "Bearer x", "Basic", "Basic !!!", basic("wrong-key"), api_key]:
        headers = {"Authorization": header} if header else {}
        r = anon_client.get("/companies", headers=headers)
        assert r.status_code == 401, header
        assert r.json()["statusCode"] == 401
    assert anon_client.get("/companies", headers={"Authorization": basic(api_key)}).status_code == 200


def test_null_is_refused_on_create_and_replace_but_ignored_on_update(client: TestClient) -> None:
    for body in [{"name": "A", "tags": None}, {"name": "A", "description": None}]:
        r = client.post("/companies", json=body)
        assert r.status_code == 400 and "null" in r.json()["error"], body
    cid = create(client, description="d", tags={"a": "1"})["id"]
    assert client.put(f"/companies/{cid}", json={"name": "B", "tags": None}).status_code == 400
    r = client.patch(f"/companies/{cid}", json={"name": None, "description": None, "tags": None})
    assert r.status_code == 200
    assert (r.json()["name"], r.json()["description"], r.json()["tags"]) == ("Bank of Dave", "d", {"a": "1"})


def test_delete_company_with_its_connection_deletes_each_row_once(client: TestClient) -> None:
    cid = create(client)["id"]
    assert client.post(f"/companies/{cid}/connections", json={"platformKey": "hcws"}).status_code == 200
    with warnings.catch_warnings():
        # A second DELETE of the connection row would only warn; here it fails the request.
        warnings.simplefilter("error", SAWarning)
        assert client.delete(f"/companies/{cid}").status_code == 204
    assert client.get(f"/companies/{cid}/connections").status_code == 404
