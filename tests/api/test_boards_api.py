"""Boards over the API, on the real server (both backends): create, read with its summary,
change, members and rights (a viewer cannot edit, a private board is 404 to others), the
isolation of images (a board never shows an image its caller could not see), deleting a
board keeps its images, and who may write (analysts and read-only tokens only read)."""

from __future__ import annotations

import io
import time
import uuid
import zipfile
from typing import Any

from tests.api.server import ApiServer


def _image(api: ApiServer, who: str, prompt: str) -> str:
    job = api.call("POST", "/api/v1/jobs", who, json={"prompt": prompt}).json["jobs"][0]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = api.call("GET", f"/api/v1/jobs/{job['id']}", who).json
        if found["images"]:
            return str(found["images"][0]["id"])
        time.sleep(0.1)
    raise AssertionError("the job made no image")


def _board(api: ApiServer, who: str, **body: Any) -> dict[str, Any]:
    r = api.call("POST", "/api/v1/boards", who, json={"name": uuid.uuid4().hex[:8], **body})
    assert r.status == 201, r.content
    return dict(r.json)


def test_a_private_board_is_not_found_by_anyone_else_but_an_admin(api: ApiServer) -> None:
    board = _board(api, "mia", description="for the <b>launch</b>")
    assert (board["owner"], board["visibility"], board["right"], board["images"]) == (
        "mia", "private", "manage", 0)
    assert board["cost_usd"] == "0"
    path = f"/api/v1/boards/{board['id']}"
    for method, sub, body in (("GET", "", None), ("PATCH", "", {"name": "x"}),
                              ("DELETE", "", None), ("GET", "/images", None),
                              ("POST", "/images", {"image_ids": ["x"]}),
                              ("PUT", "/members", {"members": {"max": "editor"}})):
        r = api.call(method, path + sub, "max", json=body)
        assert r.status == 404, (method, sub, r.content)
        assert r.error["message"].endswith("was not found, or you cannot see it.")
    assert board["id"] not in [b["id"] for b in api.call("GET", "/api/v1/boards", "max")
                               .json["boards"]]
    assert api.call("GET", path, "ada").json["right"] == "manage"


def test_members_viewers_and_editors(api: ApiServer) -> None:
    board = _board(api, "mia", visibility="members")
    path = f"/api/v1/boards/{board['id']}"
    r = api.call("PUT", path + "/members", "mia", json={"members": {"max": "viewer"}})
    assert r.status == 200 and r.json == {"board_id": board["id"], "members": {"max": "viewer"}}
    assert api.call("GET", path, "max").json["right"] == "view"
    shared = _image(api, "max", "a shared fox for a board")
    api.call("PUT", f"/api/v1/images/{shared}/share", "max", json={"shared": True})
    r = api.call("POST", path + "/images", "max", json={"image_ids": [shared]})
    assert r.status == 403 and "an editor can change its images" in r.error["message"]
    assert api.call("PATCH", path, "max", json={"name": "max's"}).status == 403
    api.call("PUT", path + "/members", "mia", json={"members": {"max": "editor"}})
    r = api.call("POST", path + "/images", "max", json={"image_ids": [shared]})
    assert r.status == 200, r.content
    assert api.call("DELETE", path, "max").status == 403
    r = api.call("PUT", path + "/members", "mia", json={"members": {"nobody": "viewer"}})
    assert r.status == 422 and "No account is named 'nobody'" in r.error["message"]
    r = api.call("PUT", path + "/members", "mia", json={"members": {"max": "owner"}})
    assert r.status == 422


def test_a_board_never_shows_an_image_its_caller_could_not_see(api: ApiServer) -> None:
    board = _board(api, "mia", visibility="team")
    path = f"/api/v1/boards/{board['id']}"
    private, shared = _image(api, "mia", "mia private"), _image(api, "mia", "mia shared")
    api.call("PUT", f"/api/v1/images/{shared}/share", "mia", json={"shared": True})
    maxs = _image(api, "max", "max private")
    r = api.call("POST", path + "/images", "mia", json={"image_ids": [private, shared]})
    assert r.status == 200 and r.json["detail"] == "2 images added to the board."
    r = api.call("POST", path + "/images", "mia", json={"image_ids": [maxs]})
    assert r.status == 403 and "not found, or you cannot see it" in r.error["message"]
    mine, his = api.call("GET", path, "mia").json, api.call("GET", path, "max").json
    assert (mine["images"], his["images"], his["right"]) == (2, 1, "view")
    assert his["first_image_at"] == his["last_image_at"]
    assert [i["id"] for i in api.call("GET", path + "/images", "max").json["images"]] == [
        shared]
    page = api.call("GET", path + "/images?limit=1", "mia").json
    assert page["total"] == 2 and page["next_cursor"]
    after = api.call("GET", f"{path}/images?limit=1&cursor={page['next_cursor']}", "mia").json
    assert {page["images"][0]["id"], after["images"][0]["id"]} == {private, shared}
    r = api.call("GET", path + "/zip", "max")
    assert r.status == 200 and r.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        manifest = zf.read("manifest.csv").decode("utf-8-sig")
    assert shared in manifest and private not in manifest and "mia shared" in manifest
    r = api.call("DELETE", path + "/images", "mia", json={"image_ids": [private]})
    assert r.status == 200 and api.call("GET", path, "mia").json["images"] == 1
    assert api.call("DELETE", path, "mia").status == 200
    assert api.call("GET", path, "mia").status == 404
    assert api.call("GET", f"/api/v1/images/{shared}", "mia").status == 200  # images stay


def test_analysts_and_read_only_tokens_only_read(api: ApiServer) -> None:
    board = _board(api, "mia", visibility="team")
    path = f"/api/v1/boards/{board['id']}"
    for who in ("ann", "mia-read"):
        assert api.call("GET", path, who).status == 200
        assert api.call("POST", "/api/v1/boards", who, json={"name": "x"}).status == 403
        assert api.call("PATCH", path, who, json={"archived": True}).status == 403
    r = api.call("PATCH", path, "mia", json={"name": " Renamed ", "archived": True})
    assert r.status == 200 and (r.json["name"], r.json["archived"]) == ("Renamed", True)
    listed = api.call("GET", "/api/v1/boards?archived=true", "mia").json["boards"]
    assert board["id"] in [b["id"] for b in listed]
    r = api.call("POST", "/api/v1/boards", "mia", json={"name": "bad\u202ename"})
    assert r.status == 422 and "U+202E" in r.error["message"]
    r = api.call("POST", "/api/v1/boards", "mia", json={"name": "x", "visibility": "public"})
    assert r.status == 422


def test_the_board_routes_are_in_the_openapi_document(api: ApiServer) -> None:
    paths = api.call("GET", "/api/v1/openapi.json").json["paths"]
    assert set(paths["/api/v1/boards/{board_id}/images"]) == {"get", "post", "delete"}
    assert set(paths["/api/v1/boards/{board_id}"]) == {"get", "patch", "delete"}
    assert "put" in paths["/api/v1/boards/{board_id}/members"]
    assert "get" in paths["/api/v1/boards/{board_id}/zip"]
