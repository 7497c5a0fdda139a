"""The models table: started from the shipped file, kept in step with it where nobody edited,
changed by admins with their rules, and new ids enabled from a model check."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest

from lib.catalog import book as catalog
from lib.catalog import edits, store
from lib.engine import Engine
from lib.providers import catalog_seed as seed
from lib.providers.types import GENERIC
from tests.builders import T0

HEADER = ",".join(seed.COLUMNS)


def _file(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "models.csv"
    path.write_text("\n".join((HEADER, *lines)) + "\n", encoding="utf-8")
    return path


@pytest.mark.duckdb_only
@pytest.mark.parametrize(("lines", "said"), [
    (("p,a,yes,yes,,,2026-13-01,b,src,",), "line 2: '2026-13-01' is not a date"),
    (("p,a,yes,yes,,,,,src,", "p,a,yes,,,,,,src,"), "line 3: p/a is listed twice"),
    (("p,a,yes,yes,,,2027-01-01,,src,",), "line 2: a shutdown date needs a replacement"),
    (("p,a,yes,yes,,,,,src,", "p,b,yes,yes,,,,,src,"), "p needs exactly one offered default"),
    (("p,a,maybe,yes,,,,,src,",), "line 2: 'maybe' must be yes, no or empty"),
    ((",a,yes,yes,,,,,src,",), "line 2: provider and model are required"),
])
def test_a_malformed_catalog_file_is_refused_naming_the_line(
        tmp_path: Path, lines: tuple[str, ...], said: str) -> None:
    with pytest.raises(seed.SeedError, match=said.replace("(", r"\(")):
        seed.parse(_file(tmp_path, *lines))


@pytest.mark.duckdb_only
def test_the_shipped_file_gives_every_provider_its_lists() -> None:
    from lib.providers import registry
    for pid, cls in registry.PROVIDERS.items():
        assert cls.caps.models == seed.offered(pid) and cls.caps.default_model == seed.default(pid)
        assert dict(cls.shutdowns) == seed.shutdowns(pid)


def test_the_table_starts_from_the_file_and_a_second_start_changes_nothing(
        engine: Engine) -> None:
    rows = store.rows(engine.db)
    assert {(r.provider, r.model) for r in rows} == {(s.provider, s.model)
                                                      for s in seed.rows()}
    assert store.sync_seed(engine.db, T0) == 0
    flash = next(r for r in rows if r.model == "gemini-3.1-flash-image")
    assert flash.deprecated == date(2026, 10, 6) and flash.edited_by is None
    assert engine.models().line("gemini").default == "gemini-3-pro-image"


def _release(monkeypatch: pytest.MonkeyPatch, **changes: dict[str, object]) -> None:
    """A newer shipped file: ``changes`` maps ``provider/model`` to new column values (a
    value of None for the whole row drops it; a new key adds a row)."""
    rows = []
    shipped = {f"{r.provider}/{r.model}": r for r in seed.rows()}
    for key, r in shipped.items():
        if key in changes and changes[key] is None:
            continue
        rows.append(replace(r, **(changes.get(key) or {})))
    for key, values in changes.items():
        if key not in shipped and values is not None:
            pid, model = key.split("/", 1)
            rows.append(replace(shipped["sandbox/sandbox-v1"], provider=pid, model=model,
                                default=False, source="new", **values))
    monkeypatch.setattr(seed, "rows", lambda: tuple(rows))


def test_a_release_moves_untouched_rows_and_never_an_admins_edit(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    store.update(engine.db, "ada", "openai", "gpt-image-1.5", enabled=True, is_default=False,
                 shutdown=date(2027, 1, 15), replacement="gpt-image-2", now=T0)
    _release(monkeypatch, **{
        "gemini/gemini-3.1-flash-image": {"shutdown": date(2027, 3, 1),
                                          "replacement": "gemini-3-pro-image"},
        "openai/gpt-image-1.5": {"shutdown": date(2026, 12, 15)}})
    assert store.sync_seed(engine.db, T0) == 1  # gemini's row; openai's was edited
    book = catalog.book(engine.db)
    assert book.line("gemini").shutdowns["gemini-3.1-flash-image"].on == date(2027, 3, 1)
    assert book.line("openai").shutdowns["gpt-image-1.5"].on == date(2027, 1, 15)


def test_a_release_never_overrides_an_admins_default_nor_leaves_two(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    store.update(engine.db, "ada", "stability", "ultra", enabled=True, is_default=True,
                 shutdown=None, replacement="", now=T0)
    _release(monkeypatch, **{"stability/core": {"default": False},
                             "stability/sd3.5-large": {"default": True},
                             "bfl/flux-2-pro": {"default": False},
                             "bfl/flux-2-max": {"default": True}})
    store.sync_seed(engine.db, T0)
    defaults = {(r.provider, r.model) for r in store.rows(engine.db) if r.is_default}
    assert ("stability", "ultra") in defaults and ("bfl", "flux-2-max") in defaults
    assert len(defaults) == len({p for p, _ in defaults})  # one per provider
    core = next(r for r in store.rows(engine.db) if r.model == "core")
    assert core.edited_by is None  # losing the default mark is no edit of that row


def test_a_release_dates_an_edited_row_without_a_date_and_drops_a_row(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    store.update(engine.db, "ada", "stability", "sd3-medium", enabled=False, is_default=False,
                 shutdown=None, replacement="", now=T0)
    store.enable(engine.db, "ada", "gemini", "gemini-nano-banana-2.1", T0)
    _release(monkeypatch, **{
        "stability/sd3-medium": {"shutdown": date(2027, 2, 1), "replacement": "sd3.5-medium"},
        "stability/sd3-large-turbo": None,
        "gemini/gemini-nano-banana-2.1": {"released": date(2026, 10, 6)}})
    store.sync_seed(engine.db, T0)
    rows = {(r.provider, r.model): r for r in store.rows(engine.db)}
    medium = rows[("stability", "sd3-medium")]
    assert (medium.shutdown, medium.enabled) == (date(2027, 2, 1), False)  # the admin's off
    assert not rows[("stability", "sd3-large-turbo")].enabled  # dropped: no longer offered
    banana = rows[("gemini", "gemini-nano-banana-2.1")]
    assert banana.origin == "seed" and banana.released == date(2026, 10, 6)
    assert not catalog.book(engine.db).is_generic("gemini", "gemini-nano-banana-2.1")


@pytest.mark.parametrize(("change", "said"), [
    ({"model": "gpt-image-2", "shutdown": date(2027, 1, 1), "replacement": ""},
     "Name the model that replaces gpt-image-2"),
    ({"model": "gpt-image-2", "replacement": "gpt-image-2"}, "cannot replace itself"),
    ({"model": "gpt-image-2", "default": False}, "make another model the default"),
    ({"model": "gpt-image-2", "offered": False}, "The default model must be offered"),
    ({"model": "gpt-image-1.5", "default": True}, "make another model the default before you"),
    ({"model": "gpt-image-2", "shutdown": date(2027, 1, 1), "replacement": "gpt-image-1.5"},
     "make another model the default"),
    ({"model": "gpt-image-1-mini", "shutdown": date(2027, 1, 1), "replacement": "gpt-image-1.5"},
     "gpt-image-1.5 cannot replace gpt-image-1-mini: it is not offered here after that date"),
    ({"model": "gpt-image-1-mini", "shutdown": date(2027, 1, 1), "replacement": "gpt-9"},
     "'gpt-9' is not a model of openai"),
])
def test_an_edit_the_catalog_cannot_take_is_refused_and_changes_nothing(
        engine: Engine, change: dict[str, object], said: str) -> None:
    before = store.rows(engine.db)
    mine = [r for r in before if r.provider == "openai"]
    row = next(r for r in mine if r.model == change["model"])
    edited = {"model": row.model, "offered": row.enabled, "default": row.is_default,
              "shutdown": row.shutdown, "replacement": row.replacement, **change}
    found = edits.changes(mine, [edited])
    problems = edits.apply(engine.db, "ada", "openai", found, T0 + timedelta(days=40))
    assert len(problems) == 1 and said in problems[0]
    assert store.rows(engine.db) == before


def test_moving_the_default_is_one_edit_and_a_shutdown_warns_everywhere(
        engine: Engine) -> None:
    mine = [r for r in store.rows(engine.db) if r.provider == "gemini"]
    table = edits.table(mine, T0.date()).to_dict("records")
    for r in table:  # the admin ticks Flash as default, unticks Pro, dates Pro's shutdown
        if r["model"] == "gemini-3.1-flash-image":
            r["default"] = True
        if r["model"] == "gemini-3-pro-image":
            r["default"], r["shutdown"] = False, T0.date() + timedelta(days=20)
            r["replacement"] = "gemini-3.1-flash-image"
    found = edits.changes(mine, table)
    assert [c.model for c in found] == ["gemini-3-pro-image", "gemini-3.1-flash-image"]
    assert edits.apply(engine.db, "ada", "gemini", found, T0) == []
    book = engine.models()
    assert book.line("gemini").default == "gemini-3.1-flash-image"
    assert book.notice("gemini", "gemini-3-pro-image", T0.date()) == (
        f"Google shuts down gemini-3-pro-image on {(T0 + timedelta(days=20)).date()}; "
        "use gemini-3.1-flash-image instead.")
    edited = {r.model: r.edited_by for r in store.rows(engine.db) if r.provider == "gemini"}
    assert edited["gemini-3-pro-image"] == edited["gemini-3.1-flash-image"] == "ada"


def test_enabling_a_discovered_id_offers_it_with_generic_settings(engine: Engine) -> None:
    assert store.enable(engine.db, "ada", "gemini", "gemini-nano-banana-2.1", T0) is True
    book = engine.models()
    assert "gemini-nano-banana-2.1" in book.live("gemini", T0.date())
    caps = book.caps("gemini", "gemini-nano-banana-2.1")
    assert (caps.max_n, caps.max_reference_images, caps.qualities) == (1, 0, ("1K",))
    assert caps.aspect_ratios == ("1:1",)
    row = next(r for r in store.rows(engine.db) if r.model == "gemini-nano-banana-2.1")
    assert row.origin == GENERIC and row.edited_by == "ada"
    assert store.enable(engine.db, "ada", "gemini", "gemini-nano-banana-2.1", T0) is False


@pytest.mark.parametrize("hostile", ["", "a b", "../../etc", "x" * 201, "id\nnext",
                                     "<script>", "-rf"])
def test_an_id_that_is_no_model_id_is_refused(engine: Engine, hostile: str) -> None:
    with pytest.raises(store.CatalogError, match="does not look like a model id"):
        store.enable(engine.db, "ada", "gemini", hostile, T0)
    assert hostile not in {r.model for r in store.rows(engine.db)}
