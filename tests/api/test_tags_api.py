"""Tags over the API, on the real server (both backends): who may tag, bulk all-or-nothing,
the ?tag= filter and search, suggestions that never leak another member's private tag, and
the OpenAPI document."""

from __future__ import annotations

import time
import uuid
from datetime import date, timedelta
from urllib.parse import quote

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


def _tags(api: ApiServer, who: str, image: str) -> list[str]:
    r = api.call("GET", f"/api/v1/images/{image}", who)
    assert r.status == 200, r.content
    return list(r.json["tags"])


def test_the_owner_and_an_admin_tag_an_image_others_may_not(api: ApiServer) -> None:
    word = uuid.uuid4().hex[:8]
    mine = _image(api, "mia", f"a tagged fox {word}")
    path = f"/api/v1/images/{mine}/tags"
    r = api.call("PUT", path, "mia", json={"tags": ["Night  Sky", f"Fox-{word}", "night sky"]})
    assert r.status == 200, r.content
    assert r.json == {"image_id": mine, "tags": sorted([f"fox-{word}", "night sky"])}
    assert api.call("PUT", path, "max", json={"tags": ["x"]}).status == 404  # private: unseen
    assert api.call("PUT", f"/api/v1/images/{mine}/share", "mia",
                    json={"shared": True}).status == 200
    r = api.call("PUT", path, "max", json={"tags": ["mine now"]})
    assert r.status == 403
    assert r.error["message"] == (f"Only their owner or an admin can tag this image: {mine}. "
                                  "Nothing was changed.")
    for who in ("mia-read", "ann"):  # a read-only token, an analyst
        assert api.call("POST", path, who, json={"tag": "x"}).status == 403
    r = api.call("POST", path, "ada", json={"tag": "Checked"})
    assert r.status == 200 and "checked" in r.json["tags"]
    r = api.call("DELETE", f"{path}/{quote('night sky')}", "mia")
    assert r.status == 200 and r.json["tags"] == sorted(["checked", f"fox-{word}"])
    assert _tags(api, "max", mine) == r.json["tags"]  # shared: max reads them
    r = api.call("GET", f"/api/v1/images?tag=FOX-{word}", "max")
    assert [(i["id"], i["tags"]) for i in r.json["images"]] == [(mine, r.json["images"][0]["tags"])]
    r = api.call("GET", f"/api/v1/images?tag=fox-{word}&tag=nothing&tag_match=all", "mia")
    assert r.json["images"] == []
    r = api.call("GET", f"/api/v1/images?q=fox-{word}", "mia")  # the search box finds tags
    assert [i["id"] for i in r.json["images"]] == [mine]


def test_a_refused_tag_is_a_422_that_says_why(api: ApiServer) -> None:
    mine = _image(api, "mia", "a hostile fox")
    for tags, says in ((["abc\u202edef"], "U+202E"), (["x" * 41], "at most 40"),
                       (["a,b"], "comma"), ([f"t{n}" for n in range(21)], "at most 20")):
        r = api.call("PUT", f"/api/v1/images/{mine}/tags", "mia", json={"tags": tags})
        assert r.status == 422 and says in r.error["message"], r.content
    assert _tags(api, "mia", mine) == []


def test_bulk_tagging_is_all_or_nothing(api: ApiServer) -> None:
    a, b = _image(api, "mia", "bulk one"), _image(api, "mia", "bulk two")
    theirs = _image(api, "max", "bulk theirs")
    api.call("PUT", f"/api/v1/images/{theirs}/share", "max", json={"shared": True})
    r = api.call("POST", "/api/v1/images/tags", "mia",
                 json={"image_ids": [a, theirs, b], "add": ["batch-x"]})
    assert r.status == 403 and theirs in r.error["message"]
    assert "Nothing was changed" in r.error["message"]
    assert _tags(api, "mia", a) == _tags(api, "mia", b) == []
    r = api.call("POST", "/api/v1/images/tags", "mia",
                 json={"image_ids": [a, b], "add": ["Batch-X", "keep"]})
    assert r.status == 200 and r.json["detail"] == "Tags changed on 2 images."
    r = api.call("POST", "/api/v1/images/tags", "mia",
                 json={"image_ids": [a, b], "remove": ["batch-x"]})
    assert _tags(api, "mia", a) == _tags(api, "mia", b) == ["keep"]
    r = api.call("POST", "/api/v1/images/tags", "mia", json={"image_ids": [a], "adds": ["x"]})
    assert r.status == 422  # a typo is named, not ignored


def test_suggestions_come_only_from_images_the_caller_can_see(api: ApiServer) -> None:
    word = uuid.uuid4().hex[:6]
    secret = _image(api, "max", "a private owl")
    api.call("PUT", f"/api/v1/images/{secret}/tags", "max",
             json={"tags": [f"zz{word} secret plan", f"zz{word} common"]})
    mine = _image(api, "mia", "a visible owl")
    api.call("PUT", f"/api/v1/images/{mine}/tags", "mia", json={"tags": [f"zz{word} common"]})
    r = api.call("GET", f"/api/v1/tags?prefix=ZZ{word}", "mia")
    assert r.status == 200 and r.json == {"tags": [{"tag": f"zz{word} common", "images": 1}]}
    r = api.call("GET", f"/api/v1/tags?prefix=zz{word}", "max")
    assert r.json["tags"] == [{"tag": f"zz{word} common", "images": 1},
                              {"tag": f"zz{word} secret plan", "images": 1}]
    r = api.call("GET", f"/api/v1/tags?prefix=zz{word}", "ada")
    assert r.json["tags"][0] == {"tag": f"zz{word} common", "images": 2}
    for q in (f"tag=zz{word}%20secret%20plan", f"q=zz{word}%20secret"):  # nor by filter
        assert api.call("GET", f"/api/v1/images?{q}", "mia").json["images"] == []
    assert api.call("GET", f"/api/v1/tags?prefix=zz{word}", "mia-read").status == 200


def test_the_openapi_document_has_the_tag_routes_and_fields(api: ApiServer) -> None:
    doc = api.call("GET", "/api/v1/openapi.json").json
    assert {"put", "post"} <= set(doc["paths"]["/api/v1/images/{image_id}/tags"])
    assert "delete" in doc["paths"]["/api/v1/images/{image_id}/tags/{tag}"]
    assert "post" in doc["paths"]["/api/v1/images/tags"]
    assert "get" in doc["paths"]["/api/v1/tags"]
    params = {p["name"] for p in doc["paths"]["/api/v1/images"]["get"]["parameters"]}
    assert {"tag", "tag_match"} <= params
    assert "tags" in doc["components"]["schemas"]["ImageOut"]["required"]


def test_the_report_by_tag_counts_a_members_own_images(api: ApiServer) -> None:
    word = uuid.uuid4().hex[:6]
    image = _image(api, "max", f"a report owl {word}")
    api.call("PUT", f"/api/v1/images/{image}/tags", "max", json={"tags": [f"rep-{word}", "x"]})
    made = date.fromisoformat(api.call("GET", f"/api/v1/images/{image}", "max").json[
        "created_at"][:10])
    span = f"from={made - timedelta(days=1)}&to={made}"  # its job may be of the day before
    r = api.call("GET", f"/api/v1/report?{span}&by=tag", "max")
    assert r.status == 200, r.content
    rows = {row["tag"]: row for row in r.json["rows"]}
    assert rows[f"rep-{word}"]["images"] == 1 and r.json["by"] == "tag"
    r = api.call("GET", f"/api/v1/report?{span}&by=tag", "mia")
    assert f"rep-{word}" not in {row["tag"] for row in r.json["rows"]}  # not max's tags
    assert api.call("GET", f"/api/v1/report?{span}&by=tags", "mia").status == 422
