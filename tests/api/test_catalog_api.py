"""/api/v1/providers, /prices and /budgets on the real server, for every credential.

Budgets need spend: a second server starts on a data dir where sandbox images cost $1 and
mia and max have queued jobs, with a team budget and one of mia's, so each role's view of
them (dollars, or the team's band only) is checked with real figures.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal

import pytest

from lib import jobs
from lib.api.catalog import budget_out
from lib.engine import Engine
from lib.jobs import repricing as pricing
from lib.money import budgets
from tests.api.server import ApiServer, start
from tests.helpers import wait_until

EVERYONE = ["ada", "mia", "max", "ann", "mia-read", "automation"]


@pytest.mark.parametrize("path", ["/api/v1/providers", "/api/v1/prices", "/api/v1/budgets"])
@pytest.mark.parametrize("who", [*EVERYONE, None])
def test_every_credential_reads_the_catalog(api: ApiServer, path: str, who: str | None) -> None:
    r = api.call("GET", path, who)
    if who is None:
        assert r.status == 401 and r.error["code"] == "unauthorized"
    else:
        assert r.status == 200, r.content
        assert r.headers["cache-control"] == "no-store"


def test_providers_say_how_to_configure_and_what_each_model_takes(api: ApiServer) -> None:
    body = api.call("GET", "/api/v1/providers", "mia").json
    assert date.fromisoformat(body["today"])  # the engine's UTC day
    found = {p["id"]: p for p in body["providers"]}
    assert list(found)[0] == "sandbox"
    assert set(found) >= {"sandbox", "gemini", "openai", "stability", "a1111", "replicate"}
    sandbox = found["sandbox"]
    assert sandbox["configured"] is True and sandbox["configure_hint"] is None
    model = next(m for m in sandbox["models"] if m["id"] == sandbox["default_model"])
    assert model["sizes"] and model["max_n"] >= 1 and model["max_prompt_chars"] > 0
    assert isinstance(model["seed"], bool) and isinstance(model["style_presets"], list)
    openai = found["openai"]  # the test server has no keys: not configured, and says how
    assert openai["configured"] is False and "OPENAI_API_KEY" in openai["configure_hint"]
    assert openai["models"] and all(m["qualities"] for m in openai["models"])
    assert found["replicate"]["open_models"] is True


def test_shut_down_models_are_not_offered_and_their_notices_name_the_replacement(
        api: ApiServer) -> None:
    today = date.fromisoformat(api.call("GET", "/api/v1/providers", "ann").json["today"])
    for p in api.call("GET", "/api/v1/providers", "ann").json["providers"]:
        offered = {m["id"] for m in p["models"]}
        for s in p["shutdowns"]:
            assert s["shut_down"] == (today >= date.fromisoformat(s["on"]))
            assert s["replacement"] in s["notice"]
            if s["shut_down"]:
                assert s["model"] not in offered
            elif s["model"] in offered:  # coming: offered, with the notice on the model
                model = next(m for m in p["models"] if m["id"] == s["model"])
                assert s["notice"] in model["notices"]


def test_prices_in_effect_now_and_on_a_day(api: ApiServer) -> None:
    now = api.call("GET", "/api/v1/prices", "mia").json
    rows = now["prices"]
    keys = [(r["provider"], r["model"], r["variant"], r["unit"]) for r in rows]
    assert len(keys) == len(set(keys))  # one row in effect per key
    sandbox = [r for r in rows if r["provider"] == "sandbox"]
    assert sandbox and sandbox[0]["usd_per_unit"] == "0.0000000000"  # free; DECIMAL(18,10)
    assert all(isinstance(r["usd_per_unit"], str) for r in rows)
    assert all(r["effective_from"] <= now["at"][:10] for r in rows)
    one = api.call("GET", "/api/v1/prices?provider=openai", "ann").json["prices"]
    assert one and {r["provider"] for r in one} == {"openai"}
    early = api.call("GET", "/api/v1/prices?at=2025-01-01", "mia").json
    assert early["at"].startswith("2025-01-01") and not any(
        r["provider"] == "openai" and r["model"] == "gpt-image-2" for r in early["prices"])
    r = api.call("GET", "/api/v1/prices?provider=nonesuch", "mia")
    assert r.status == 422 and "nonesuch" in r.error["message"]
    assert api.call("GET", "/api/v1/prices?at=yesterday", "mia").status == 422
    assert api.call("GET", "/api/v1/prices?colour=red", "mia").status == 422


# --------------------------------------------------------------------------- budgets


def _spend(eng: Engine, now: datetime) -> None:
    """Sandbox images at $1 from this month on; mia queues 4 ($4), max 5 ($5); then the team
    gets $10 (90% used) and mia $3 (over)."""
    pricing.add_price(eng.db, "ada", "sandbox", "*", "*", "images", Decimal(1),
                      now.date().replace(day=1), "tests: a priced sandbox", now)
    jobs.submit(eng, "mia", jobs.JobSpec(prompt="a priced fox", n=4))
    jobs.submit(eng, "max", jobs.JobSpec(prompt="a priced owl", n=5))
    budgets.set_budget(eng.db, "team", "team", Decimal(10), "ada", now)
    budgets.set_budget(eng.db, "user", "mia", Decimal(3), "ada", now)


@pytest.fixture(scope="module")
def spent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    running = start(tmp_path_factory.mktemp("api-budgets"), "budgets", prepare=_spend)
    yield running
    running.server.stop()


def _budgets(api: ApiServer, who: str) -> dict[str, dict[str, object]]:
    r = api.call("GET", "/api/v1/budgets", who)
    assert r.status == 200, r.content
    return {f"{b['scope']}:{b['subject']}": b for b in r.json["budgets"]}


@pytest.mark.parametrize("who", ["ada", "ann", "automation"])
def test_admins_and_analysts_see_every_budget_in_dollars(spent: ApiServer, who: str) -> None:
    seen = _budgets(spent, who)
    assert list(seen) == ["team:team", "user:mia"]
    team, mia = seen["team:team"], seen["user:mia"]
    assert team["dollars_shown"] is True and team["limit_usd"] == "10.00"
    assert team["spent_usd"] is not None and Decimal(str(team["spent_usd"])) == 9
    assert team["fraction"] == 0.9 and team["warn_fraction"] == 0.8
    assert (team["level"], team["band"]) == ("warn", "90-100% used")
    assert Decimal(str(mia["spent_usd"])) == 4 and mia["left_usd"] == "0"
    assert (mia["level"], mia["band"]) == ("over", "over the limit")
    assert str(mia["summary"]).startswith("Over by $1.00")


@pytest.mark.parametrize("who", ["mia", "mia-read"])
def test_a_member_sees_their_own_budget_and_only_the_team_s_band(spent: ApiServer,
                                                                  who: str) -> None:
    seen = _budgets(spent, who)
    assert list(seen) == ["user:mia", "team:team"]
    mine, team = seen["user:mia"], seen["team:team"]
    assert mine["dollars_shown"] is True and mine["limit_usd"] == "3.00"
    assert team["dollars_shown"] is False
    assert all(team[k] is None for k in ("limit_usd", "spent_usd", "left_usd", "fraction",
                                         "warn_fraction"))
    assert team["band"] == "90-100% used" and team["level"] == "warn"
    assert team["summary"] == "The team's monthly budget is 90-100% used."
    assert "$" not in str(team)


def test_a_member_without_a_budget_sees_the_team_s_band_only(spent: ApiServer) -> None:
    seen = _budgets(spent, "max")
    assert list(seen) == ["team:team"] and seen["team:team"]["dollars_shown"] is False
    assert spent.call("GET", "/api/v1/budgets").status == 401


def test_spend_follows_the_jobs_as_they_finish(spent: ApiServer) -> None:
    """Queued jobs reserve their estimate; finished ones count their cost: the same $9."""
    def finished() -> bool:
        listed = spent.call("GET", "/api/v1/jobs?user=mia", "ada").json["jobs"]
        return bool(listed) and all(j["status"] == "succeeded" for j in listed)
    wait_until(finished, timeout=60)
    assert Decimal(str(_budgets(spent, "ada")["team:team"]["spent_usd"])) == 9


def test_a_budget_s_level_and_a_zero_limit() -> None:
    def lim(limit: int, used: str, scope: str = "user") -> budgets.Limit:
        return budgets.Limit(scope, "mia" if scope == "user" else "team", Decimal(limit),
                             Decimal(used), 0.8)
    assert budget_out(lim(10, "1"), False).level == "ok"
    assert budget_out(lim(10, "8"), False).level == "warn"
    assert budget_out(lim(10, "10"), False).level == "warn"  # at the limit, not over it
    assert budget_out(lim(10, "10.01"), False).level == "over"
    zero = budget_out(lim(0, "0.5"), True)
    assert zero.fraction is None and zero.level == "over" and zero.band == "over the limit"
    hidden = budget_out(lim(10, "6", "team"), False)
    assert hidden.dollars_shown is False and hidden.fraction is None
    assert budget_out(lim(10, "6", "team"), True).spent_usd == Decimal("6")
