"""/api/v1/me and /api/v1/tokens on the real server: every credential, and revocation that
takes effect on the very next call."""

from __future__ import annotations

import pytest

from tests.api.server import ApiServer, Reply

EXPECTED_ME = {
    "ada": ("ada", "admin", "full", "token"),
    "mia": ("mia", "member", "full", "token"),
    "max": ("max", "member", "full", "token"),
    "ann": ("ann", "analyst", "full", "token"),
    "mia-read": ("mia", "member", "read", "token"),
    "automation": ("automation", "admin", "full", "admin-token"),
}


def _make(api: ApiServer, who: str | None, name: str = "script", scope: str = "full") -> Reply:
    return api.call("POST", "/api/v1/tokens", who, json={"name": name, "scope": scope})


@pytest.mark.parametrize("who", [*EXPECTED_ME, None])
def test_me_for_every_credential(api: ApiServer, who: str | None) -> None:
    r = api.call("GET", "/api/v1/me", who)
    if who is None:
        assert r.status == 401
        return
    assert r.status == 200, r.content
    me = r.json
    assert (me["username"], me["role"], me["scope"], me["via"]) == EXPECTED_ME[who]
    assert ("admin" in me["pages"]) == (me["role"] == "admin")
    assert ("generate" in me["pages"]) == (me["role"] != "analyst")


@pytest.mark.parametrize("who", [*EXPECTED_ME, None])
def test_the_token_list_is_one_s_own_and_never_holds_a_secret(api: ApiServer,
                                                               who: str | None) -> None:
    r = api.call("GET", "/api/v1/tokens", who)
    if who is None:
        assert r.status == 401
        return
    assert r.status == 200, r.content
    owner = EXPECTED_ME[who][0]
    listed = r.json["tokens"]
    assert all(t["username"] == owner for t in listed)
    assert "secret" not in r.content.decode()
    for secret in api.tokens.values():
        assert secret not in r.content.decode()
    if who != "automation":  # the automation account has no personal tokens
        mine = [t for t in listed if api.tokens[who].startswith(t["hint"])]
        assert len(mine) == 1 and mine[0]["status"] == "active"
        assert mine[0]["scope"] == EXPECTED_ME[who][2]


@pytest.mark.parametrize(("who", "status"), [
    ("ada", 201), ("mia", 201), ("ann", 201),
    ("mia-read", 403),  # read-only: cannot make any token, so never a full one
    ("automation", 403),  # its tokens would outlive rotating PROMPTBOARD_ADMIN_TOKEN
    (None, 401),
])
def test_who_may_make_a_token(api: ApiServer, who: str | None, status: int) -> None:
    r = _make(api, who, f"made by {who}")
    assert r.status == status, r.content
    if status == 201:
        made = r.json
        assert made["secret"].startswith("pb_") and made["secret"].startswith(
            made["token"]["hint"])
        assert (made["token"]["username"], made["token"]["status"]) == (
            EXPECTED_ME[str(who)][0], "active")
        assert api.call("DELETE", f"/api/v1/tokens/{made['token']['id']}", who).status == 200
    elif status == 403:
        assert r.error["code"] == "forbidden"
    assert _make(api, "mia-read", scope="read").status == 403  # not even a read one


def test_make_use_and_revoke_a_token_then_it_is_refused_at_once(api: ApiServer) -> None:
    made = _make(api, "mia", "nightly").json
    secret, token_id = made["secret"], made["token"]["id"]
    me = api.call("GET", "/api/v1/me", token=secret)
    assert me.status == 200 and me.json["username"] == "mia" and me.json["scope"] == "full"
    assert api.call("POST", "/api/v1/jobs", token=secret, json={"prompt": "a fox"}).status == 202
    listed = api.call("GET", "/api/v1/tokens", token=secret).json["tokens"]
    assert any(t["id"] == token_id and t["last_used_at"] for t in listed)
    r = api.call("DELETE", f"/api/v1/tokens/{token_id}", token=secret)  # revokes itself
    assert r.status == 200 and r.json["status"] == "revoked" and r.json["revoked_at"]
    after = api.call("GET", "/api/v1/me", token=secret)
    assert after.status == 401 and after.error["code"] == "unauthorized"
    # the owner's other tokens go on; revoking again is fine
    assert api.call("GET", "/api/v1/me", "mia").status == 200
    assert api.call("DELETE", f"/api/v1/tokens/{token_id}", "mia").status == 200


def test_a_read_token_made_over_the_api_only_reads(api: ApiServer) -> None:
    made = _make(api, "max", "dashboard", scope="read").json
    secret = made["secret"]
    assert made["token"]["scope"] == "read"
    assert api.call("GET", "/api/v1/jobs", token=secret).status == 200
    r = api.call("POST", "/api/v1/jobs", token=secret, json={"prompt": "a fox"})
    assert r.status == 403 and "read-only" in r.error["message"]
    r = api.call("POST", "/api/v1/tokens", token=secret, json={"name": "wider"})
    assert r.status == 403  # it cannot mint a full token
    assert api.call("DELETE", f"/api/v1/tokens/{made['token']['id']}", token=secret).status \
        == 403  # nor revoke (a write): its owner does
    assert api.call("DELETE", f"/api/v1/tokens/{made['token']['id']}", "max").status == 200
    assert api.call("GET", "/api/v1/jobs", token=secret).status == 401


def test_another_s_token_is_not_found_but_an_admin_revokes_it(api: ApiServer) -> None:
    made = _make(api, "max", "shared by mistake").json
    token_id, secret = made["token"]["id"], made["secret"]
    r = api.call("DELETE", f"/api/v1/tokens/{token_id}", "mia")
    assert r.status == 404 and r.error["message"] == "No such token of yours."
    assert api.call("DELETE", f"/api/v1/tokens/{token_id}", "ann").status == 404
    assert api.call("DELETE", "/api/v1/tokens/no-such-id", "mia").status == 404
    assert api.call("DELETE", f"/api/v1/tokens/{token_id}", None).status == 401
    assert api.call("GET", "/api/v1/me", token=secret).status == 200
    r = api.call("DELETE", f"/api/v1/tokens/{token_id}", "ada")  # an admin: anyone's
    assert r.status == 200 and r.json["username"] == "max" and r.json["status"] == "revoked"
    assert api.call("GET", "/api/v1/me", token=secret).status == 401


def test_token_requests_are_checked_with_the_library_s_words(api: ApiServer) -> None:
    r = _make(api, "mia", "   ")
    assert r.status == 422 and r.error["message"] == \
        "Give the token a name, so you can tell it apart later."
    r = _make(api, "mia", "x" * 61)
    assert r.status == 422 and "at most 60" in r.error["message"]
    r = _make(api, "mia", "ok", scope="admin")
    assert r.status == 422 and r.error["fields"][0]["field"] == "scope"
    r = api.call("POST", "/api/v1/tokens", "mia", json={"name": "ok", "secret": "mine"})
    assert r.status == 422 and r.error["fields"][0]["field"] == "secret"
