"""GET /api/v1/audit on the real server: admins only, read-only, filtered, paged, CSV; what
the API's door records (the caller and ``token:<id>``, never a secret)."""

from __future__ import annotations

import csv
import io
import time
import uuid
from typing import Any

import pytest

from tests.api.server import PASSWORD, ApiServer

AUDIT = "/api/v1/audit"


def _token_id(api: ApiServer, who: str) -> str:
    listed = api.call("GET", "/api/v1/tokens", who).json["tokens"]
    found: str = next(t["id"] for t in listed if t["name"] == "tests")
    return found


def _rows(api: ApiServer, **params: Any) -> list[dict[str, Any]]:
    r = api.call("GET", AUDIT, "ada", params=params)
    assert r.status == 200, r.content
    entries: list[dict[str, Any]] = r.json["entries"]
    return entries


def test_an_admin_change_over_the_api_is_recorded_as_the_caller_and_their_token(
        api: ApiServer) -> None:
    name = "t" + uuid.uuid4().hex[:10]
    r = api.call("POST", "/api/v1/admin/users", "ada", json={
        "username": name, "name": "Test", "role": "member", "password": PASSWORD})
    assert r.status == 201, r.content
    rows = _rows(api, action="user_create", q=name)
    assert [(e["actor"], e["action"], e["target"], e["via"]) for e in rows] == [
        ("ada", "user_create", name, "token:" + _token_id(api, "ada"))]
    assert rows[0]["detail"] == {"role": "member", "can_sign_in": True}
    r = api.call("PUT", f"/api/v1/admin/users/{name}/role", "automation",
                 json={"role": "analyst"})
    assert r.status == 200, r.content
    rows = _rows(api, action="user_role", actor="automation", q=name)
    assert [(e["target"], e["via"], e["detail"]) for e in rows] == [
        (name, "admin-token", {"from": "member", "to": "analyst"})]


def test_a_refused_change_writes_no_row(api: ApiServer) -> None:
    name = "t" + uuid.uuid4().hex[:10]
    r = api.call("POST", "/api/v1/admin/users", "ada", json={
        "username": name, "name": "Test", "role": "member", "password": "short"})
    assert r.status == 422
    assert _rows(api, q=name) == []
    r = api.call("POST", "/api/v1/admin/users", "mia", json={
        "username": name, "name": "Test", "role": "member", "password": PASSWORD})
    assert r.status == 403
    assert _rows(api, q=name) == []


def test_no_secret_reaches_the_log(api: ApiServer) -> None:
    made = api.call("POST", "/api/v1/tokens", "max", json={"name": "audit probe"})
    assert made.status == 201, made.content
    secret, token_id = made.json["secret"], made.json["token"]["id"]
    revoked = api.call("DELETE", f"/api/v1/tokens/{token_id}", "max")
    assert revoked.status == 200
    text = api.call("GET", AUDIT, "ada", params={"format": "csv"}).content.decode()
    assert f"token_create,{token_id}" in text and f"token_revoke,{token_id}" in text
    assert secret not in text and secret[:10] not in text  # not even its hint
    assert PASSWORD not in text and "$2b$" not in text  # no password, no hash
    for key, value in [*api.tokens.items()]:
        assert value not in text, key


@pytest.mark.parametrize(("who", "status"), [
    ("mia", 403), ("ann", 403), ("mia-read", 403), (None, 401)])
def test_only_admins_read_the_log(api: ApiServer, who: str | None, status: int) -> None:
    assert api.call("GET", AUDIT, who).status == status
    assert api.call("GET", AUDIT, who, params={"format": "csv"}).status == status


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "POST"])
def test_no_route_edits_or_deletes_the_log(api: ApiServer, method: str) -> None:
    before = len(_rows(api, limit=1000))
    assert api.call(method, AUDIT, "ada", json={}).status == 405
    one = _rows(api, limit=1)[0]["id"]
    assert api.call(method, f"{AUDIT}/{one}", "ada", json={}).status == 404
    assert len(_rows(api, limit=1000)) >= before


def test_pages_by_cursor_newest_first(api: ApiServer) -> None:
    for _ in range(3):
        api.call("POST", "/api/v1/admin/users", "ada", json={
            "username": "t" + uuid.uuid4().hex[:10], "name": "T", "role": "member",
            "password": PASSWORD})
    first = api.call("GET", AUDIT, "ada", params={"limit": 2, "action": "user_create"}).json
    assert len(first["entries"]) == 2 and first["next_cursor"]
    second = api.call("GET", AUDIT, "ada", params={
        "limit": 2, "action": "user_create", "cursor": first["next_cursor"]}).json
    ids = [e["id"] for e in first["entries"] + second["entries"]]
    assert len(set(ids)) == len(ids)
    ats = [e["at"] for e in first["entries"] + second["entries"]]
    assert ats == sorted(ats, reverse=True)


def test_csv_and_bad_filters(api: ApiServer) -> None:
    r = api.call("GET", AUDIT, "ada", params={"format": "csv", "action": "user_create"})
    assert r.status == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode())))
    assert rows[0] == ["at", "actor", "action", "target", "detail", "via"]
    assert {row[2] for row in rows[1:]} <= {"user_create"}
    assert api.call("GET", AUDIT, "ada", params={"action": "drop_table"}).status == 422
    assert api.call("GET", AUDIT, "ada", params={"cursor": "nonsense"}).status == 422


def _image(api: ApiServer, who: str) -> str:
    job = api.call("POST", "/api/v1/jobs", who, json={"prompt": "an audited fox"}).json
    job_id = job["jobs"][0]["id"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = api.call("GET", f"/api/v1/jobs/{job_id}", who).json
        if found["images"]:
            return str(found["images"][0]["id"])
        time.sleep(0.1)
    raise AssertionError("the job made no image")


def test_a_members_share_and_delete_over_the_api_name_their_token(api: ApiServer) -> None:
    image_id = _image(api, "mia")
    assert api.call("PUT", f"/api/v1/images/{image_id}/share", "mia",
                    json={"shared": True}).status == 200
    assert api.call("DELETE", f"/api/v1/images/{image_id}", "mia").status == 200
    rows = _rows(api, q=image_id)
    via = "token:" + _token_id(api, "mia")
    assert [(e["actor"], e["action"], e["target"], e["via"]) for e in rows] == [
        ("mia", "image_delete", image_id, via), ("mia", "image_share", image_id, via)]
