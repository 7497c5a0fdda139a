"""Model checks of the providers that look ids up (Replicate, fal) through the engine: the
outcome is kept (new, gone, deprecated), the catalog is never changed by a check, a failure
is kept without the key, and the daily round checks them like the providers with lists."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from lib.catalog import checks, store
from lib.core.clock import FakeClock
from lib.engine import Engine
from lib.providers import discovery
from tests.fakes import fal as f
from tests.fakes import replicate as r
from tests.providers.engines import provider_engine

NOW = datetime(2026, 12, 8, 9, 0)
DEV, PRO = "black-forest-labs/flux-dev", "black-forest-labs/flux-1.1-pro"


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[r.FakeReplicate, f.FakeFal]]:
    rep, fal = r.FakeReplicate(), f.FakeFal()
    yield rep, fal
    rep.close()
    fal.close()


@pytest.fixture
def fakes(servers: tuple[r.FakeReplicate, f.FakeFal]) -> tuple[r.FakeReplicate, f.FakeFal]:
    for fake in servers:
        fake.reset()
    return servers


@pytest.fixture
def engine(fakes: tuple[r.FakeReplicate, f.FakeFal], monkeypatch: pytest.MonkeyPatch,
           caplog: pytest.LogCaptureFixture) -> Iterator[Engine]:
    caplog.set_level(logging.DEBUG)
    rep, fal = fakes
    yield from provider_engine(monkeypatch, {**rep.env(), **fal.env(),
                                             "PROMPTBOARD_HTTP_TIMEOUT": "2"},
                               FakeClock(NOW), secret=rep.token, log=lambda: caplog.text)


def test_a_replicate_check_keeps_new_and_gone_and_changes_nothing(
        engine: Engine, fakes: tuple[r.FakeReplicate, f.FakeFal]) -> None:
    rep, _ = fakes
    rep.models.discard(DEV)
    before = store.rows(engine.db)
    found = checks.check_now(engine, "replicate", NOW.date())
    assert isinstance(found, discovery.Discovery)
    assert found.new == (PRO,) and found.gone == (DEV,)
    kept = checks.latest(engine)["replicate"]
    assert (kept.new, kept.gone, kept.error) == ((PRO,), (DEV,), "")
    assert store.rows(engine.db) == before  # never enables, never turns off
    assert PRO not in engine.models().live("replicate", NOW.date())
    assert DEV in engine.models().live("replicate", NOW.date())
    assert not rep.creates


def test_a_fal_check_keeps_what_is_deprecated(engine: Engine,
                                              fakes: tuple[r.FakeReplicate, f.FakeFal]) -> None:
    _, fal = fakes
    fal.models["fal-ai/flux/dev"] = "deprecated"
    found = checks.check_now(engine, "fal", NOW.date())
    assert isinstance(found, discovery.Discovery) and found.deprecated == ("fal-ai/flux/dev",)
    kept = checks.latest(engine)["fal"]
    assert kept.deprecated == ("fal-ai/flux/dev",) and kept.gone == ()
    assert kept.new == ("fal-ai/flux-pro/v1.1",) and kept.listed == 3  # 2 looked up, 1 new
    del fal.models["fal-ai/flux/dev"]
    checks.check_now(engine, "fal", NOW.date())
    kept = checks.latest(engine)["fal"]
    assert kept.gone == ("fal-ai/flux/dev",) and kept.deprecated == ()


def test_a_failed_lookup_is_kept_without_the_key(engine: Engine,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = "fal-" + "WRONGwrong0123456789:secretWRONG"
    monkeypatch.setenv("FAL_KEY", wrong)
    said = checks.check_now(engine, "fal", NOW.date())
    assert isinstance(said, str) and "FAL_KEY" in said and wrong not in said
    assert checks.latest(engine)["fal"].error == said
    assert wrong not in repr(engine.db.fetchall("SELECT * FROM model_checks"))


def test_the_daily_round_looks_them_up(engine: Engine) -> None:
    assert set(checks.run_due(engine, timedelta(days=1))) >= {"replicate", "fal"}
    last = checks.latest(engine)
    assert last["replicate"].listed == 3 and last["fal"].listed == 3  # 2 offered + 1 new
