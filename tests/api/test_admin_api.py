"""/api/v1/admin on the real server: admins only, the Admin page's rules and words, and
changes to a user that stop their tokens on the very next call.

Users that are disabled, demoted or get a new password are made for it, so the session
server's ada, mia, max and ann stay as they are for the other tests: fresh ones over the API
where no token of theirs is needed, and spare ones with tokens on a second server where it is.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from lib.auth import accounts, tokens
from lib.core import config
from lib.engine import Engine
from lib.jobs import repricing as pricing
from tests.api.server import PASSWORD, ApiServer, Reply, start
from tests.helpers import wait_until

ADMIN_OK = ["ada", "automation"]
REFUSED = {"mia": 403, "max": 403, "ann": 403, "mia-read": 403, None: 401}
EVERYONE = [*ADMIN_OK, *REFUSED]
SPARE = {"dina": "disable", "demi": "demote", "paul": "password", "rita": "revoke"}


def _fresh(api: ApiServer, role: str = "member") -> str:
    """A new account made over the API by ada."""
    name = "t" + uuid.uuid4().hex[:10]
    r = api.call("POST", "/api/v1/admin/users", "ada", json={
        "username": name, "name": "Test User", "role": role, "password": PASSWORD})
    assert r.status == 201, r.content
    return name


def _user(api: ApiServer, username: str) -> dict[str, Any]:
    users = api.call("GET", "/api/v1/admin/users", "ada").json["users"]
    found: dict[str, Any] = next(u for u in users if u["username"] == username)
    return found


def _token_of(api: ApiServer, username: str) -> dict[str, Any]:
    listed = api.call("GET", "/api/v1/admin/tokens", "ada").json["tokens"]
    found: dict[str, Any] = next(t for t in listed if t["username"] == username)
    return found


def _call(api: ApiServer, who: str | None, what: str) -> tuple[Reply, str]:
    """One admin request as ``who``, on a target made for it; the target is returned."""
    if what == "list users":
        return api.call("GET", "/api/v1/admin/users", who), ""
    if what == "create user":
        name = "t" + uuid.uuid4().hex[:10]
        return api.call("POST", "/api/v1/admin/users", who, json={
            "username": name, "name": "New", "role": "analyst", "password": PASSWORD}), name
    if what in ("role", "disabled", "password"):
        target = _fresh(api)
        body: dict[str, object] = {"role": {"role": "analyst"}, "disabled": {"disabled": True},
                                   "password": {"password": "another long secret"}}[what]
        return api.call("PUT", f"/api/v1/admin/users/{target}/{what}", who, json=body), target
    if what == "list tokens":
        return api.call("GET", "/api/v1/admin/tokens", who), ""
    if what == "revoke token":
        made = api.call("POST", "/api/v1/tokens", "mia", json={"name": "to revoke"}).json
        token_id = made["token"]["id"]
        return api.call("DELETE", f"/api/v1/admin/tokens/{token_id}", who), token_id
    assert what == "add price"
    model = "test-" + uuid.uuid4().hex[:8]  # its own model: no job of any test is priced by it
    return api.call("POST", "/api/v1/admin/prices", who, json={
        "provider": "stability", "model": model, "usd_per_unit": "0.05",
        "effective_from": "2026-01-01", "source": "tests"}), model


WHATS = ["list users", "create user", "role", "disabled", "password", "list tokens",
         "revoke token", "add price"]


@pytest.mark.parametrize("what", WHATS)
@pytest.mark.parametrize("who", EVERYONE)
def test_admin_endpoints_for_every_credential(api: ApiServer, who: str | None,
                                              what: str) -> None:
    r, target = _call(api, who, what)
    if who in ADMIN_OK:
        assert r.status == (201 if what in ("create user", "add price") else 200), r.content
        assert r.headers["cache-control"] == "no-store"
    else:
        assert r.status == REFUSED[who], r.content
        assert r.error["code"] == ("unauthorized" if who is None else "forbidden")
    changed = who in ADMIN_OK
    if what == "create user":
        users = {u["username"] for u in api.call("GET", "/api/v1/admin/users", "ada").json[
            "users"]}
        assert (target in users) == changed
    elif what in ("role", "disabled", "password"):
        user = _user(api, target)
        assert user["role"] == ("analyst" if changed and what == "role" else "member")
        assert user["disabled"] == (changed and what == "disabled")
    elif what == "revoke token":
        listed = api.call("GET", "/api/v1/tokens", "mia").json["tokens"]
        token = next(t for t in listed if t["id"] == target)
        assert token["status"] == ("revoked" if changed else "active")
        api.call("DELETE", f"/api/v1/tokens/{target}", "mia")  # tidy: mia has 20 at most
    elif what == "add price":
        prices = api.call("GET", "/api/v1/prices?provider=stability", "mia").json["prices"]
        assert any(p["model"] == target for p in prices) == changed
    elif what == "list users" and changed:
        assert {"ada", "mia", "max", "ann"} <= {u["username"] for u in r.json["users"]}
        assert "$2b$" not in r.content.decode() and PASSWORD not in r.content.decode()
    elif what == "list tokens" and changed:
        assert {"ada", "mia", "max", "ann"} <= {t["username"] for t in r.json["tokens"]}
        assert not any(secret in r.content.decode() for secret in api.tokens.values())


def test_making_a_user_is_checked_with_the_page_s_words(api: ApiServer) -> None:
    def make(**fields: object) -> Reply:
        body = {"username": "t" + uuid.uuid4().hex[:10], "name": "N", "role": "member",
                "password": PASSWORD, **fields}
        return api.call("POST", "/api/v1/admin/users", "ada", json=body)

    r = make(username="Nora", email="Nora@Example.com", role="analyst")
    assert r.status == 201 and (r.json["username"], r.json["email"], r.json["role"]) == (
        "nora", "nora@example.com", "analyst")
    assert r.json["has_password"] is True and r.json["status"] == "active"
    taken = make(username="nora")
    assert taken.status == 422 and taken.error["message"] == "The username 'nora' is taken."
    assert make(password="short").error["message"] == \
        "A password needs at least 10 characters."
    assert make(role="boss").error["message"] == \
        "Unknown role 'boss': choose one of admin, member, analyst."
    assert make(username="a b").error["message"].startswith("A username is 3–32 characters")
    assert "look like an e-mail" in make(email="nope").error["message"]
    r = make(admin=True)
    assert r.status == 422 and r.error["fields"][0]["field"] == "admin"


def test_changes_to_a_user_no_one_has_are_404(api: ApiServer) -> None:
    for what, body in (("role", {"role": "member"}), ("disabled", {"disabled": True}),
                       ("password", {"password": "another long secret"})):
        r = api.call("PUT", f"/api/v1/admin/users/nobody-here/{what}", "ada", json=body)
        assert r.status == 404, r.content
    r = api.call("PUT", "/api/v1/admin/users/ada/role", "ada", json={"role": "boss"})
    assert r.status == 422 and r.error["message"].startswith("Unknown role 'boss'")
    r = api.call("PUT", "/api/v1/admin/users/ada/password", "ada", json={"password": "ada"})
    assert r.status == 422
    assert api.call("DELETE", "/api/v1/admin/tokens/no-such-id", "ada").status == 404


def test_an_admin_cannot_disable_their_own_account(api: ApiServer) -> None:
    r = api.call("PUT", "/api/v1/admin/users/ada/disabled", "ada", json={"disabled": True})
    assert r.status == 403 and "Not your own account" in r.error["message"]
    r = api.call("PUT", "/api/v1/admin/users/automation/disabled", "automation",
                 json={"disabled": True})
    assert r.status == 403
    assert api.call("GET", "/api/v1/me", "ada").status == 200
    assert _user(api, "ada")["disabled"] is False


def test_a_price_is_checked_as_on_the_page(api: ApiServer) -> None:
    def add(**fields: object) -> Reply:
        body = {"provider": "stability", "model": "test-checks", "usd_per_unit": "0.01",
                "effective_from": "2026-01-01", "source": "tests", **fields}
        return api.call("POST", "/api/v1/admin/prices", "ada", json=body)

    assert add(usd_per_unit="-1").error["message"] == "A price cannot be negative."
    assert add(usd_per_unit="2000000").error["message"] == \
        "A price is an amount up to $1,000,000 per unit."
    assert add(source="  ").error["message"].startswith("Say where the price comes from")
    assert add(unit="").error["message"].startswith("Provider, model (or *), variant")
    r = add(provider="nonesuch")
    assert r.status == 422 and "nonesuch" in r.error["message"]
    for bad in ("Infinity", "0.00000000001", "a dollar"):
        assert add(usd_per_unit=bad).status == 422
    assert add(effective_from="soon").status == 422
    r = add(model="test-precise", usd_per_unit="0.0123456789", variant="1024x1024/hd")
    assert r.status == 201, r.content
    row = r.json
    assert (row["usd_per_unit"], row["effective_from"], row["variant"], row["source"]) == (
        "0.0123456789", "2026-01-01", "1024x1024/hd", "tests")
    listed = api.call("GET", "/api/v1/prices?provider=stability", "ann").json["prices"]
    assert row in listed


# ------------------------------------------------- a second server: spare users with tokens


def _spare_users(eng: Engine, now: datetime) -> dict[str, str]:
    made = {}
    for name in SPARE:
        accounts.create_user(eng.db, name, name.title(), None, "member", PASSWORD, now=now)
        made[name] = tokens.create(eng.db, name, "tests", now=now)[1]
    return made


@pytest.fixture(scope="module")
def spare(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    running = start(tmp_path_factory.mktemp("api-admin"), "admin", prepare=_spare_users)
    yield running
    running.server.stop()


def test_disabling_a_user_stops_their_token_on_the_next_call(spare: ApiServer) -> None:
    assert spare.call("POST", "/api/v1/jobs", "dina", json={"prompt": "a fox"}).status == 202
    r = spare.call("PUT", "/api/v1/admin/users/dina/disabled", "ada", json={"disabled": True})
    assert r.status == 200 and r.json["disabled"] is True and r.json["status"] == "disabled"
    assert spare.call("GET", "/api/v1/me", "dina").status == 401
    assert spare.call("POST", "/api/v1/jobs", "dina", json={"prompt": "a fox"}).status == 401
    assert _token_of(spare, "dina")["status"] == "ended"
    r = spare.call("PUT", "/api/v1/admin/users/dina/disabled", "ada", json={"disabled": False})
    assert r.status == 200 and r.json["status"] == "active"
    assert spare.call("GET", "/api/v1/me", "dina").status == 401  # enabled, the token stays dead


def test_a_member_made_analyst_cannot_queue_on_the_next_call(spare: ApiServer) -> None:
    assert spare.call("POST", "/api/v1/jobs", "demi", json={"prompt": "a fox"}).status == 202
    r = spare.call("PUT", "/api/v1/admin/users/demi/role", "automation",
                   json={"role": "analyst"})
    assert r.status == 200 and r.json["role"] == "analyst"
    # A role change ends the user's sessions and tokens (lib/auth/tokens.py): not even a read.
    r = spare.call("POST", "/api/v1/jobs", "demi", json={"prompt": "a fox"})
    assert r.status == 401
    assert spare.call("GET", "/api/v1/jobs", "demi").status == 401
    assert _token_of(spare, "demi")["status"] == "ended"
    assert _user(spare, "demi")["role"] == "analyst"


def test_a_password_reset_stops_the_user_s_tokens(spare: ApiServer) -> None:
    r = spare.call("PUT", "/api/v1/admin/users/paul/password", "ada", json={"password": "paul"})
    assert r.status == 422 and r.error["message"] == "A password needs at least 10 characters."
    assert spare.call("GET", "/api/v1/me", "paul").status == 200  # a refused reset ends nothing
    r = spare.call("PUT", "/api/v1/admin/users/paul/password", "ada",
                   json={"password": "a brand new passphrase"})
    assert r.status == 200 and r.json["username"] == "paul"
    assert spare.call("GET", "/api/v1/me", "paul").status == 401
    assert _token_of(spare, "paul")["status"] == "ended"


def test_an_admin_revokes_another_s_token_and_it_stops_at_once(spare: ApiServer) -> None:
    assert spare.call("GET", "/api/v1/me", "rita").status == 200
    token = _token_of(spare, "rita")
    assert token["status"] == "active" and spare.tokens["rita"].startswith(token["hint"])
    r = spare.call("DELETE", f"/api/v1/admin/tokens/{token['id']}", "ada")
    assert r.status == 200 and r.json["status"] == "revoked" and r.json["username"] == "rita"
    assert spare.call("GET", "/api/v1/me", "rita").status == 401
    assert spare.call("DELETE", f"/api/v1/admin/tokens/{token['id']}", "ada").status == 200


def test_the_last_admin_keeps_the_role_and_the_automation_token_follows_its_account(
        spare: ApiServer) -> None:
    assert spare.call("GET", "/api/v1/me", "automation").status == 200  # the account exists
    others = [u["username"] for u in spare.call("GET", "/api/v1/admin/users", "ada").json[
        "users"] if u["role"] == "admin" and not u["disabled"] and u["username"] != "ada"]
    assert "automation" in others
    for name in others:
        r = spare.call("PUT", f"/api/v1/admin/users/{name}/disabled", "ada",
                       json={"disabled": True})
        assert r.status == 200, r.content
    assert spare.call("GET", "/api/v1/me", "automation").status == 401  # its account is off
    try:
        r = spare.call("PUT", "/api/v1/admin/users/ada/role", "ada", json={"role": "member"})
        assert r.status == 422 and r.error["message"] == \
            "ada is the last admin: make someone else an admin first."
        assert _user(spare, "ada")["role"] == "admin"
    finally:
        for name in others:
            spare.call("PUT", f"/api/v1/admin/users/{name}/disabled", "ada",
                       json={"disabled": False})
    assert spare.call("GET", "/api/v1/me", "automation").status == 200  # enabled: on again


# --------------------------------------- a third server: what a price leaves in the database


def test_a_price_added_over_the_api_is_audited_and_reprices_nothing(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = tmp_path_factory.mktemp("api-prices")
    server = start(tmp, "prices")
    try:
        job = server.call("POST", "/api/v1/jobs", "mia", json={"prompt": "a fox"}).json
        job_id = job["jobs"][0]["id"]

        def done() -> bool:
            found = server.call("GET", f"/api/v1/jobs/{job_id}", "mia").json
            return bool(found["status"] == "succeeded")
        wait_until(done, timeout=60)
        key = {"Idempotency-Key": "price-" + uuid.uuid4().hex}
        body = {"provider": "sandbox", "usd_per_unit": "1.25", "effective_from": "2026-01-01",
                "source": "a correction, by the tests"}
        first = server.call("POST", "/api/v1/admin/prices", "automation", json=body,
                            headers=key)
        again = server.call("POST", "/api/v1/admin/prices", "automation", json=body,
                            headers=key)
        assert first.status == again.status == 201 and first.json == again.json
        assert again.headers["idempotent-replayed"] == "true"
        after = server.call("GET", f"/api/v1/jobs/{job_id}", "mia").json
        assert after["cost_usd"] == "0.00000000"  # a stored cost does not move
    finally:
        server.server.stop()
    eng = Engine(replace(config.load(), data_dir=Path(tmp / "prices")))
    try:
        rows = [r for r in pricing.list_prices(eng.db) if r.source.startswith("a correction")]
        assert len(rows) == 1 and rows[0].usd_per_unit == Decimal("1.25")
        assert (rows[0].created_by, rows[0].model, rows[0].variant, rows[0].unit) == (
            "automation", "*", "*", "images")
        trail = [a for a in pricing.audit(eng.db) if a["action"] == "add_price"
                 and '"a correction, by the tests"' in a["detail"]]
        assert len(trail) == 1 and trail[0]["by_user"] == "automation"
        assert f'"id": {rows[0].id}' in trail[0]["detail"]
    finally:
        eng.close()
