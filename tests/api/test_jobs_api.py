"""/api/v1/jobs on the real server: queue, poll, list, cancel, retry, for every role."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator

from PIL import Image

from tests.api.server import ApiServer, Reply
from tests.helpers import wait_until


def _queue(api: ApiServer, who: str, **body: object) -> Reply:
    return api.call("POST", "/api/v1/jobs", who, json={"prompt": "a red fox", **body})


def _done(api: ApiServer, who: str, job_id: str) -> dict[str, object]:
    def finished() -> dict[str, object] | None:
        job = api.call("GET", f"/api/v1/jobs/{job_id}", who).json
        return job if job["status"] in ("succeeded", "failed", "cancelled") else None
    found: dict[str, object] = wait_until(finished, timeout=30)
    return found


def test_a_member_queues_polls_and_downloads(api: ApiServer) -> None:
    r = _queue(api, "mia", n=2)
    assert r.status == 202, r.content
    job = r.json["jobs"][0]
    assert (job["user"], job["provider"]) == ("mia", "sandbox")
    assert job["status"] in ("queued", "running")  # a worker may claim it before the reply
    assert r.json["batch_id"] is None and job["estimated_cost_usd"] == "0.00000000"
    done = _done(api, "mia", str(job["id"]))
    assert done["status"] == "succeeded" and done["cost_usd"] == "0.00000000"
    assert str(done["created_at"]).endswith("+00:00")
    images = done["images"]
    assert isinstance(images, list) and len(images) == 2
    f = api.call("GET", images[0]["file_url"], "mia")
    assert f.status == 200 and f.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(f.content)).size[0] > 0


def test_variations_make_a_batch_with_their_own_seeds(api: ApiServer) -> None:
    r = _queue(api, "mia", variations=3, seed=10, seed_mode="consecutive")
    assert r.status == 202
    batch = r.json
    assert batch["batch_id"] and len(batch["jobs"]) == 3
    assert sorted(j["seed"] for j in batch["jobs"]) == [10, 11, 12]


def test_the_page_s_validation_and_wording(api: ApiServer) -> None:
    r = _queue(api, "mia", prompt="   ")
    assert r.status == 422 and r.error["message"] == \
        "The prompt is empty. Describe the image you want."
    r = _queue(api, "mia", provider="nonesuch")
    assert r.status == 422 and "nonesuch" in r.error["message"]
    r = api.call("POST", "/api/v1/jobs", "mia", json={"promt": "typo"})
    assert r.status == 422 and {f["field"] for f in r.error["fields"]} >= {"promt", "prompt"}
    r = api.call("POST", "/api/v1/jobs", "mia", data=b"{not json",
                 headers={"content-type": "application/json"})
    assert r.status == 422
    r = api.call("POST", "/api/v1/jobs", "mia", data=b"prompt=x",
                 headers={"content-type": "text/plain"})
    assert r.status == 415


def test_a_reference_image_as_base64_and_as_multipart(api: ApiServer) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), "teal").save(buf, "PNG")
    png = buf.getvalue()
    r = _queue(api, "mia", reference_image_base64=base64.b64encode(png).decode())
    # the sandbox takes a reference image; the job runs with it
    assert r.status == 202, r.content
    r = api.call("POST", "/api/v1/jobs", "mia", data={"prompt": "a fox", "n": "1"},
                 files={"reference": ("ref.png", png, "image/png")})
    assert r.status == 202, r.content
    r = api.call("POST", "/api/v1/jobs", "mia", data={"prompt": "a fox"},
                 files={"reference": ("ref.png", b"not an image at all", "image/png")})
    assert r.status == 422 and r.error["message"].startswith("The reference image was refused")
    r = _queue(api, "mia", reference_image_base64="***")
    assert r.status == 422 and "base64" in r.error["message"]


def test_an_oversized_body_is_refused_before_it_is_read(api: ApiServer) -> None:
    big = b"x" * (70 * 1024 * 1024)  # over 25 MB (the upload limit) in base64, twice
    r = api.call("POST", "/api/v1/jobs", "mia", data=big,
                 headers={"content-type": "application/json"})
    assert r.status == 413 and "limit" in r.error["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: refused while it streams
        for _ in range(80):
            yield b"y" * (1024 * 1024)

    r = api.call("POST", "/api/v1/jobs", "mia", data=chunks(),
                 headers={"content-type": "application/json"})
    assert r.status == 413


def test_roles_and_scopes(api: ApiServer) -> None:
    assert _queue(api, "ann").status == 403  # analysts never queue
    r = _queue(api, "mia-read")
    assert r.status == 403 and "read-only" in r.error["message"]
    assert api.call("GET", "/api/v1/jobs", "mia-read").status == 200
    assert _queue(api, None).status == 401
    r = _queue(api, None, token="pb_forged")
    assert r.status == 401 and r.headers["www-authenticate"].startswith("Bearer")
    assert r.error["message"] == _queue(api, None, token="garbage").error["message"]


def test_jobs_are_private_to_their_owner_and_admins(api: ApiServer) -> None:
    job_id = _queue(api, "mia", prompt="mia's secret fox").json["jobs"][0]["id"]
    assert api.call("GET", f"/api/v1/jobs/{job_id}", "max").status == 404
    assert api.call("POST", f"/api/v1/jobs/{job_id}/cancel", "max").status == 404
    assert api.call("GET", f"/api/v1/jobs/{job_id}", "ada").status == 200
    assert api.call("GET", f"/api/v1/jobs/{job_id}", "automation").status == 200
    mine = api.call("GET", "/api/v1/jobs?limit=200", "max").json["jobs"]
    assert all(j["user"] == "max" for j in mine)
    everyone = api.call("GET", "/api/v1/jobs?user=mia&limit=200", "ada").json["jobs"]
    assert job_id in {j["id"] for j in everyone}


def test_listing_pages_by_cursor_and_filters(api: ApiServer) -> None:
    for k in range(3):
        assert _queue(api, "max", prompt=f"fox {k}").status == 202
    first = api.call("GET", "/api/v1/jobs?limit=2", "max").json
    assert len(first["jobs"]) == 2 and first["next_cursor"]
    second = api.call("GET", f"/api/v1/jobs?limit=2&cursor={first['next_cursor']}", "max").json
    seen = [j["id"] for j in first["jobs"] + second["jobs"]]
    assert len(seen) == len(set(seen))
    assert api.call("GET", "/api/v1/jobs?status=bogus", "max").status == 422
    assert api.call("GET", "/api/v1/jobs?cursor=%%%", "max").status == 422
    assert api.call("GET", "/api/v1/jobs?colour=red", "max").status == 422


def test_cancel_and_retry(api: ApiServer) -> None:
    job_id = _queue(api, "max", prompt="slow fox", n=4).json["jobs"][0]["id"]
    r = api.call("POST", f"/api/v1/jobs/{job_id}/cancel", "max")
    assert r.status == 200
    done = _done(api, "max", job_id)
    if done["status"] == "cancelled":
        r = api.call("POST", f"/api/v1/jobs/{job_id}/retry", "max")
        assert r.status == 202 and r.json["jobs"][0]["id"] != job_id
    else:  # it finished before the cancel reached it: nothing to retry
        assert api.call("POST", f"/api/v1/jobs/{job_id}/retry", "max").status == 409


def test_idempotency_key(api: ApiServer) -> None:
    key = {"Idempotency-Key": '"5f1c3a52-0b3e-4c1e-9b7a-ffa0c0e3d111"'}
    a = api.call("POST", "/api/v1/jobs", "mia", json={"prompt": "once"}, headers=key)
    b = api.call("POST", "/api/v1/jobs", "mia", json={"prompt": "once"}, headers=key)
    assert a.status == b.status == 202 and a.json == b.json
    assert b.headers["idempotent-replayed"] == "true"
    c = api.call("POST", "/api/v1/jobs", "mia", json={"prompt": "another"}, headers=key)
    assert c.status == 422 and c.error["code"] == "idempotency_key_reused"
    d = api.call("POST", "/api/v1/jobs", "max", json={"prompt": "once"}, headers=key)
    assert d.status == 202 and d.json["jobs"][0]["id"] != a.json["jobs"][0]["id"]  # per user
    bad = api.call("POST", "/api/v1/jobs", "mia", json={"prompt": "x"},
                   headers={"Idempotency-Key": "has spaces"})
    assert bad.status == 400


def test_unknown_paths_and_methods_answer_json(api: ApiServer) -> None:
    r = api.call("GET", "/api/v1/nope", "mia")
    assert r.status == 404 and r.error["code"] == "not_found"
    r = api.call("PATCH", "/api/v1/jobs", "mia")
    assert r.status == 405 and set(r.headers["allow"].split(", ")) == {"GET", "POST"}


def test_the_report_matches_the_cli_s_bytes(api: ApiServer) -> None:
    r = api.call("GET", "/api/v1/report?from=2026-01-01&to=2030-12-31&by=provider&format=json",
                 "ada")
    assert r.status == 200 and r.headers["content-type"].startswith("application/json")
    rows = r.json["rows"]
    assert rows and rows[0]["provider"] == "sandbox"
    assert api.call("GET", "/api/v1/report?from=2026-01-01&to=2030-12-31&by=colour",
                    "ada").status == 422
    assert api.call("GET", "/api/v1/report?from=yesterday&to=2030-12-31", "ada").status == 422


def test_the_gallery_pages_by_a_keyset_cursor_that_new_images_do_not_shift(
        api: ApiServer) -> None:
    made = []
    for k in range(5):
        job_id = _queue(api, "max", prompt=f"keyset fox {k}").json["jobs"][0]["id"]
        made.append(_done(api, "max", job_id)["images"][0]["id"])  # type: ignore[index]
    query = "/api/v1/images?q=keyset%20fox&mine=true&limit=2"
    first = api.call("GET", query, "max").json
    assert [i["id"] for i in first["images"]] == made[::-1][:2] and first["total"] == 5
    newer = _queue(api, "max", prompt="keyset fox arriving late").json["jobs"][0]["id"]
    _done(api, "max", newer)  # a new image lands while the client pages
    seen = [i["id"] for i in first["images"]]
    cursor = first["next_cursor"]
    while cursor:
        page = api.call("GET", f"{query}&cursor={cursor}", "max").json
        seen += [i["id"] for i in page["images"]]
        cursor = page["next_cursor"]
    assert seen == made[::-1]  # no repeats, nothing skipped, the newcomer not mixed in
    by_cost = api.call("GET", query + "&sort=cost", "max").json  # offset cursor for the rest
    assert by_cost["next_cursor"] and len(by_cost["images"]) == 2
