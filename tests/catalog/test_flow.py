"""The catalog at work, against the fake Gemini API: an admin's shutdown date warns and then
refuses at submit; a model turned off is not offered; a model check finds a new id, an admin
enables it and it runs with generic settings and unknown cost; checks are kept, daily, once."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from lib import jobs
from lib.catalog import checks, store
from lib.core.clock import FakeClock
from lib.engine import Engine
from lib.jobs import forms
from lib.jobs.model import SubmitError
from lib.providers import discovery
from tests.fakes import gemini as g
from tests.helpers import run_next
from tests.providers.engines import provider_engine

PRO, FLASH, NEW = "gemini-3-pro-image", "gemini-3.1-flash-image", "gemini-nano-banana-2.1"
NOW = datetime(2026, 12, 6, 9, 0)


@pytest.fixture(scope="module")
def server() -> Iterator[g.FakeGemini]:
    fake = g.FakeGemini()
    yield fake
    fake.close()


@pytest.fixture
def fake(server: g.FakeGemini) -> Iterator[g.FakeGemini]:
    server.reset()
    yield server
    assert not server.violations, server.violations


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def engine(fake: g.FakeGemini, clock: FakeClock, monkeypatch: pytest.MonkeyPatch,
           caplog: pytest.LogCaptureFixture) -> Iterator[Engine]:
    caplog.set_level(logging.DEBUG)
    yield from provider_engine(
        monkeypatch, {"GEMINI_API_KEY": g.KEY, "GEMINI_BASE_URL": fake.url,
                      "PROMPTBOARD_HTTP_TIMEOUT": "2"}, clock,
        secret=g.KEY, log=lambda: caplog.text)


def submit(engine: Engine, **kw: Any) -> str:
    kw.setdefault("prompt", "a lighthouse at dusk")
    return jobs.submit(engine, "ann", jobs.JobSpec(provider="gemini", **kw))


def test_an_admins_shutdown_date_warns_for_30_days_then_refuses_at_submit(
        engine: Engine, clock: FakeClock) -> None:
    ends = NOW.date() + timedelta(days=20)
    store.update(engine.db, "ada", "gemini", FLASH, enabled=True, is_default=False,
                 shutdown=ends, replacement=PRO, now=NOW)
    said = f"Google shuts down {FLASH} on {ends}; use {PRO} instead."
    assert forms.options("gemini", FLASH, NOW.date(), engine.models()).notices[0] == said
    before = submit(engine, model=FLASH, aspect_ratio="16:9")
    assert run_next(engine) == jobs.SUCCEEDED
    clock.advance(20 * 86400)
    today = clock.now().date()
    assert FLASH not in forms.options("gemini", None, today, engine.models()).models
    with pytest.raises(SubmitError, match=f"Google shut down {FLASH} on {ends}; use {PRO}"):
        submit(engine, model=FLASH, aspect_ratio="16:9")
    old = jobs.get(engine, before)
    assert old is not None and old.status == jobs.SUCCEEDED and old.model == FLASH


@pytest.mark.parametrize("ends", [None, NOW.date() + timedelta(days=5)], ids=["undated", "dated"])
def test_a_model_turned_off_is_not_offered_and_is_refused(
        engine: Engine, fake: g.FakeGemini, ends: date | None) -> None:
    store.update(engine.db, "ada", "gemini", FLASH, enabled=False, is_default=False,
                 shutdown=ends, replacement=PRO if ends else "", now=NOW)
    assert forms.options("gemini", None, NOW.date(), engine.models()).models == (PRO,)
    with pytest.raises(SubmitError, match=f"{FLASH} is turned off here .Admin → Models.; "
                                          f"choose one of {PRO}"):
        submit(engine, model=FLASH)
    assert fake.calls == []


def test_a_checked_new_id_runs_once_enabled_with_generic_settings_and_unknown_cost(
        engine: Engine, fake: g.FakeGemini) -> None:
    fake.live = {**g.MODELS, NEW: ("1K",)}  # Google lists and serves a new model
    found = checks.check_now(engine, "gemini", NOW.date())
    assert isinstance(found, discovery.Discovery) and found.new == (NEW,)
    assert checks.latest(engine)["gemini"].new == (NEW,)
    with pytest.raises(SubmitError, match=f"Gemini has no model '{NEW}'"):
        submit(engine, model=NEW)  # found is not enabled
    store.enable(engine.db, "ada", "gemini", NEW, NOW)
    opts = forms.options("gemini", NEW, NOW.date(), engine.models())
    assert (opts.max_n, opts.max_reference_images, opts.qualities) == (1, 0, ("1K",))
    assert any("cost is unknown until an admin adds a price" in n for n in opts.notices)
    with pytest.raises(SubmitError, match="1 to 1 images"):
        submit(engine, model=NEW, n=2)
    job_id = submit(engine, model=NEW, aspect_ratio="1:1")
    assert run_next(engine) == jobs.SUCCEEDED
    job = jobs.get(engine, job_id)
    assert job is not None and job.cost_usd is None  # no price row: unknown, never $0
    sent = [c for c in fake.server.history if NEW in c.path]
    config = sent[-1].json()["generationConfig"]["imageConfig"]
    assert config.get("imageSize", "1K") == "1K" and config["aspectRatio"] == "1:1"
    again = checks.check_now(engine, "gemini", NOW.date())
    assert isinstance(again, discovery.Discovery) and again.new == ()


def test_a_failed_check_is_kept_without_the_key(engine: Engine, fake: g.FakeGemini,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = "AIza" + "WRONGwrongWRONG0123456789abcdefghijk"
    monkeypatch.setenv("GEMINI_API_KEY", wrong)
    said = checks.check_now(engine, "gemini", NOW.date())
    assert isinstance(said, str) and "GEMINI_API_KEY" in said and wrong not in said
    kept = checks.latest(engine)["gemini"]
    assert kept.error == said and kept.listed is None
    assert wrong not in repr(engine.db.fetchall("SELECT * FROM model_checks"))


def test_a_due_check_is_claimed_once_a_period(engine: Engine, clock: FakeClock) -> None:
    day = timedelta(days=1)
    assert checks.claim(engine, "gemini", day) is True
    assert checks.claim(engine, "gemini", day) is False  # another process asking: not due
    clock.advance(23 * 3600)
    assert checks.run_due(engine, day) == []
    clock.advance(2 * 3600)
    assert checks.run_due(engine, day) == ["gemini"]  # the only configured one with a list
    assert checks.latest(engine)["gemini"].listed == len(g.MODELS)


def test_the_daily_checker_runs_beside_the_workers(
        engine: Engine, fake: g.FakeGemini, monkeypatch: pytest.MonkeyPatch) -> None:
    engine.settings = engine.settings.__class__(**{**engine.settings.__dict__,
                                                   "model_check_hours": 24.0})
    engine.start_workers(threads=1)
    deadline = time.monotonic() + 20
    while (last := checks.latest(engine).get("gemini")) is None or last.listed is None:
        assert time.monotonic() < deadline, "no model check within 20 s"
        time.sleep(0.05)
    assert checks.latest(engine)["gemini"].listed == len(g.MODELS)
    assert any(c.method == "GET" and "/models" in c.path for c in fake.server.history)


def test_a_model_turned_off_is_refused_where_any_id_is_taken(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPLICATE_API_TOKEN", "r8_test_never_called")  # no worker runs it
    dev = "black-forest-labs/flux-dev"
    store.update(engine.db, "ada", "replicate", dev, enabled=False, is_default=False,
                 shutdown=None, replacement="", now=NOW)
    with pytest.raises(SubmitError, match=f"{dev} is turned off here"):
        jobs.submit(engine, "ann", jobs.JobSpec(provider="replicate", model=dev, prompt="a fox"))
    jobs.submit(engine, "ann", jobs.JobSpec(provider="replicate", model="acme/other",
                                            prompt="a fox"))  # any other id is still taken


def test_a_check_does_not_call_a_model_turned_off_new(engine: Engine) -> None:
    store.update(engine.db, "ada", "gemini", FLASH, enabled=False, is_default=False,
                 shutdown=None, replacement="", now=NOW)
    found = checks.check_now(engine, "gemini", NOW.date())  # the fake still lists FLASH
    assert isinstance(found, discovery.Discovery) and FLASH in (found.listed or ())
    assert found.new == ()


def test_the_connection_test_looks_up_the_databases_default(
        engine: Engine, fake: g.FakeGemini) -> None:
    from lib import admin

    store.update(engine.db, "ada", "gemini", FLASH, enabled=True, is_default=True,
                 shutdown=None, replacement="", now=NOW)
    ok, said = admin.test_provider("gemini", line=engine.models().line("gemini"))
    assert ok, said
    assert any(r.path.endswith(f"/models/{FLASH}") for r in fake.server.history)


def test_an_admin_widens_an_enabled_id_and_the_wire_carries_it(
        engine: Engine, fake: g.FakeGemini) -> None:
    from lib.catalog import caps
    from lib.providers.types import ModelCaps
    fake.live = {**g.MODELS, NEW: ("1K", "2K")}  # Google's page says 1K and 2K
    store.enable(engine.db, "ada", "gemini", NEW, NOW)
    with pytest.raises(SubmitError, match="2K"):
        submit(engine, model=NEW, quality="2K")  # basic settings: 1K only
    caps.set_caps(engine.db, "ada", "gemini", NEW,
                  ModelCaps(aspect_ratios=("1:1", "16:9"), qualities=("1K", "2K"), max_n=2,
                            max_reference_images=2), NOW)
    job_id = submit(engine, model=NEW, quality="2K", aspect_ratio="16:9", n=2)
    assert run_next(engine) == jobs.SUCCEEDED
    from lib.jobs.groups import images_of
    assert len(images_of(engine, [job_id])[job_id]) == 2
    config = [c for c in fake.server.history if NEW in c.path][-1].json()["generationConfig"]
    assert config["imageConfig"] == {"aspectRatio": "16:9", "imageSize": "2K"}
    caps.set_caps(engine.db, "ada", "gemini", NEW, None, NOW)  # back to basic settings
    with pytest.raises(SubmitError, match="1 to 1 images"):
        submit(engine, model=NEW, n=2)
