"""/api/v1/admin/access and /api/v1/admin/caps on the real server: admins set allow-lists
and daily caps, and a member's catalog and submits follow them at once (403 with the reason
off the list, 422 past the cap). max's list and cap are removed again after each test: the
session's server is shared."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.server import ApiServer


@pytest.fixture
def max_free_again(api: ApiServer) -> Iterator[None]:
    yield
    assert api.call("PUT", "/api/v1/admin/access/user/max", "ada",
                    json={"models": None}).status == 200
    assert api.call("PUT", "/api/v1/admin/caps/max", "ada",
                    json={"daily_images": None}).status == 200


@pytest.mark.parametrize("who", ["mia", "ann", None])
def test_only_admins_read_or_set_access(api: ApiServer, who: str | None) -> None:
    assert api.call("GET", "/api/v1/admin/access", who).status in (401, 403)
    assert api.call("PUT", "/api/v1/admin/caps/max", who,
                    json={"daily_images": 1}).status in (401, 403)


@pytest.mark.usefixtures("max_free_again")
def test_a_users_list_narrows_their_catalog_and_refuses_the_rest(api: ApiServer) -> None:
    r = api.call("PUT", "/api/v1/admin/access/user/max", "ada", json={"models": ["gemini/*"]})
    assert r.status == 200, r.content
    assert {"scope": "user", "subject": "max", "models": ["gemini/*"]}.items() <= next(
        g for g in r.json["lists"] if g["subject"] == "max").items()
    listed = [p["id"] for p in api.call("GET", "/api/v1/providers", "max").json["providers"]]
    assert listed == ["gemini"]
    refused = api.call("POST", "/api/v1/jobs", "max",
                       json={"prompt": "a red fox", "provider": "sandbox"})
    assert refused.status == 403, refused.content
    assert "Sandbox (offline, free) sandbox-v1 is not on max's own list" in \
        refused.error["message"]
    assert api.call("PUT", "/api/v1/admin/access/user/max", "ada",
                    json={"models": ["sandbox/*"]}).status == 200
    assert api.call("POST", "/api/v1/jobs", "max",
                    json={"prompt": "a red fox", "provider": "sandbox"}).status == 202


@pytest.mark.usefixtures("max_free_again")
def test_a_cap_of_zero_refuses_with_the_sentence(api: ApiServer) -> None:
    r = api.call("PUT", "/api/v1/admin/caps/max", "ada", json={"daily_images": 0})
    assert r.status == 200 and any(c["username"] == "max" and c["daily_images"] == 0
                                   for c in r.json["caps"])
    refused = api.call("POST", "/api/v1/jobs", "max",
                       json={"prompt": "a capped fox", "provider": "sandbox"})
    assert refused.status == 422 and "daily cap is 0 images" in refused.error["message"]


@pytest.mark.parametrize(("path", "body", "said"), [
    ("/api/v1/admin/access/role/wizard", {"models": []}, "There is no role 'wizard'"),
    ("/api/v1/admin/access/user/max", {"models": ["nope/x"]}, "There is no provider 'nope'"),
    ("/api/v1/admin/access/user/max", {"models": ["no-slash"]}, ""),
    ("/api/v1/admin/caps/nobody", {"daily_images": 3}, "There is no user 'nobody'"),
    ("/api/v1/admin/caps/max", {"daily_images": -1}, ""),
])
def test_what_cannot_be_set_is_422_with_the_reason(api: ApiServer, path: str,
                                                   body: dict[str, object], said: str) -> None:
    r = api.call("PUT", path, "ada", json=body)
    assert r.status == 422, r.content
    assert said in r.error["message"]
