"""A saved comparison on a model that shuts down: its columns are flagged by the database's
catalog, and "run again with the replacement" starts a new comparison on it while the old
one stays as it ran."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from lib.catalog import store as catalog_store
from lib.compare import grid as cmp
from lib.compare import lifecycle, store
from lib.core import config
from lib.core.clock import FakeClock
from lib.engine import Engine
from lib.gallery import queries as gallery
from tests.builders import T0

ANN = gallery.Viewer("ann", "member")
PRO, FLASH = "gemini-3-pro-image", "gemini-3.1-flash-image"


@pytest.fixture(autouse=True)
def _on_each_backend(backend: str) -> str:
    return backend


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setenv("GEMINI_API_KEY", "AIza-test-never-called")  # no workers: no calls
    monkeypatch.setenv("GEMINI_BASE_URL", "http://127.0.0.1:9")
    eng = Engine(config.load(), clock=FakeClock(T0))
    yield eng
    eng.close()


def _grid() -> cmp.Grid:
    return cmp.Grid(rows=("a lighthouse",), columns=(
        cmp.Column(provider="gemini", model=FLASH), cmp.Column(provider="sandbox")), seed=7)


def test_a_column_on_a_dated_model_is_flagged_and_moved_to_a_new_run(engine: Engine) -> None:
    old_id = store.start(engine, ANN, _grid(), "Lighthouses")
    old = store.get(engine, ANN, old_id)
    assert old is not None and lifecycle.flagged(old.grid, T0.date(), engine.models()) == []
    with pytest.raises(cmp.CompareError, match="No model of this comparison is being shut"):
        lifecycle.run_on_replacements(engine, ANN, old)
    catalog_store.update(engine.db, "ada", "gemini", FLASH, enabled=True, is_default=False,
                         shutdown=T0.date() + timedelta(days=10), replacement=PRO, now=T0)
    found = lifecycle.flagged(old.grid, T0.date(), engine.models())
    assert [(i, w.model, w.replacement) for i, w in found] == [(0, FLASH, PRO)]
    new_id = lifecycle.run_on_replacements(engine, ANN, old)
    new = store.get(engine, ANN, new_id)
    assert new is not None and new_id != old_id
    assert [c.model for c in new.grid.columns] == [PRO, None]
    assert new.title == f"Lighthouses (on {PRO})" and new.grid.seed == old.grid.seed
    again = store.get(engine, ANN, old_id)
    assert again is not None and again.grid == old.grid  # the record of what ran stays
    models = {r[0] for r in engine.db.fetchall("SELECT model FROM jobs WHERE provider='gemini'")}
    assert models == {FLASH, PRO}


def test_a_base_setting_on_a_dated_model_moves_too(engine: Engine) -> None:
    grid = cmp.Grid(rows=("a lighthouse",), columns=(cmp.Column(quality="1K"),),
                    base=cmp.Column(provider="gemini", model=FLASH))
    catalog_store.update(engine.db, "ada", "gemini", FLASH, enabled=True, is_default=False,
                         shutdown=T0.date() + timedelta(days=3), replacement=PRO, now=T0)
    found = lifecycle.flagged(grid, T0.date(), engine.models())
    assert [i for i, _ in found] == [0]
    assert lifecycle.moved(grid, found).base.model == PRO


def test_run_again_twice_in_a_moment_is_one_new_comparison(engine: Engine) -> None:
    old_id = store.start(engine, ANN, _grid(), "Lighthouses")
    old = store.get(engine, ANN, old_id)
    assert old is not None
    catalog_store.update(engine.db, "ada", "gemini", FLASH, enabled=True, is_default=False,
                         shutdown=T0.date() + timedelta(days=10), replacement=PRO, now=T0)
    first = lifecycle.run_on_replacements(engine, ANN, old)
    assert lifecycle.run_on_replacements(engine, ANN, old) == first  # a double click
    assert engine.db.scalar("SELECT count(*) FROM comparisons") == 2
