"""What a model takes, as data: the shipped capabilities file (checked strictly, one row per
catalog model), laid over each provider's own, and an admin's edits in ``models.caps``,
bounded by what the provider's wire can carry, on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from lib.catalog import caps, edits, store
from lib.engine import Engine
from lib.providers import catalog_caps, registry
from lib.providers import catalog_seed as seed
from lib.providers.types import ModelCaps
from tests.builders import T0

HEADER = ",".join(catalog_caps.COLUMNS)
ONE = (seed.SeedModel("p", "a", True, True, None, None, None, "", "src", None),)
GOOD = "p,a,1024x1024,1:1,low high,4,1,yes,no,no,no,docs.example/a"
NEW = "gemini-nano-banana-2.1"


def _file(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "capabilities.csv"
    path.write_text("\n".join((HEADER, *lines)) + "\n", encoding="utf-8")
    return path


@pytest.mark.duckdb_only
@pytest.mark.parametrize(("lines", "said"), [
    ((GOOD.replace("1024x1024", "1024 by 1024"),), "line 2: '1024' is not a valid size"),
    ((GOOD.replace(",1:1,", ",1:1 wide,"),), "'wide' is not a valid aspect ratio"),
    ((GOOD.replace(",4,1,", ",lots,1,"),), "max_images 'lots' is not a whole number"),
    ((GOOD.replace(",4,1,", ",0,1,"),), "max_images must be 1 to 16, not 0"),
    ((GOOD.replace(",yes,no,no,", ",maybe,no,no,"),), "seed must be yes or no"),
    ((GOOD.replace("1024x1024,1:1", ","),), "list at least one size or aspect ratio"),
    ((GOOD.replace("docs.example/a", ""),), "name the page the row was read from"),
    ((GOOD, GOOD), "line 3: p/a is listed twice"),
    ((GOOD, GOOD.replace("p,a,", "p,b,")), "p/b is not in models.csv"),
    ((), "no capabilities for p/a"),
    ((GOOD.replace("low high", "low low"),), "a quality is listed twice"),
])
def test_a_malformed_capabilities_file_is_refused_naming_the_line(
        tmp_path: Path, lines: tuple[str, ...], said: str) -> None:
    with pytest.raises(seed.SeedError, match=said):
        catalog_caps.parse(_file(tmp_path, *lines), ONE)


@pytest.mark.duckdb_only
def test_every_shipped_model_has_its_row_and_providers_read_it() -> None:
    shipped = catalog_caps.rows()
    assert set(shipped) == {(r.provider, r.model) for r in seed.rows()}
    old = registry.get("gemini").model_caps("gemini-2.5-flash-image")
    assert (old.qualities, old.max_reference_images) == (("1K",), 3)
    core = registry.get("stability").model_caps("core")
    assert core.max_reference_images == 0 and core.style_presets
    assert registry.get("stability").model_caps("sd3.5-large").style_presets == ()
    assert registry.get("openai").model_caps("gpt-image-2").open_sizes
    assert not registry.get("openai").model_caps("gpt-image-1.5").open_sizes
    for (pid, model), row in shipped.items():
        assert ModelCaps.of(registry.get(pid).model_caps(model)) == row, (pid, model)


@pytest.mark.duckdb_only
def test_a_default_the_model_lacks_moves_to_its_first_value() -> None:
    base = registry.get("openai").caps
    took = ModelCaps(sizes=("1536x1024",), qualities=("high",), max_n=1).apply(base)
    assert (took.default_size, took.default_quality) == ("1536x1024", "high")
    assert ModelCaps.from_dict(took_dict := ModelCaps.of(took).to_dict()) == ModelCaps.of(took)
    assert ModelCaps.from_dict({**took_dict, "unknown": 1}) == ModelCaps.of(took)


@pytest.mark.parametrize(("want", "said"), [
    (ModelCaps(aspect_ratios=("1:1", "7:3"), qualities=("1K",)),
     "Gemini takes no aspect ratio 7:3"),
    (ModelCaps(aspect_ratios=("1:1",), qualities=("8K",)), "Gemini takes no quality 8K"),
    (ModelCaps(qualities=("1K",)), "Keep at least one size or aspect ratio"),
    (ModelCaps(aspect_ratios=("1:1",)), "Keep at least one quality"),
    (ModelCaps(aspect_ratios=("1:1",), qualities=("1K",), max_n=9), "must be 1 to 4"),
    (ModelCaps(aspect_ratios=("1:1",), qualities=("1K",), max_reference_images=15),
     "Reference images must be 0 to 14"),
    (ModelCaps(aspect_ratios=("1:1",), qualities=("1K",), seed=True), "Gemini takes no seed"),
    (ModelCaps(aspect_ratios=("1:1",), qualities=("1K",), open_sizes=True),
     "Gemini takes any size only for models"),
])
def test_an_edit_past_what_the_wire_carries_is_refused_and_nothing_changes(
        engine: Engine, want: ModelCaps, said: str) -> None:
    store.enable(engine.db, "ada", "gemini", NEW, T0)
    with pytest.raises(store.CatalogError, match=said):
        caps.set_caps(engine.db, "ada", "gemini", NEW, want, T0)
    assert engine.models().caps("gemini", NEW).max_n == 1
    assert next(r for r in store.rows(engine.db) if r.model == NEW).caps is None


def test_an_edit_reaches_the_book_and_the_engines_providers_and_a_reset_undoes_it(
        engine: Engine) -> None:
    want = ModelCaps(aspect_ratios=("1:1", "1:4"), qualities=("1K", "2K"), max_n=2,
                     max_reference_images=3)
    caps.set_caps(engine.db, "ada", "gemini", "gemini-3-pro-image", want, T0)
    took = engine.models().caps("gemini", "gemini-3-pro-image")
    assert (took.aspect_ratios, took.qualities, took.max_n, took.max_reference_images) == (
        ("1:1", "1:4"), ("1K", "2K"), 2, 3)  # 1:4 is 3.1 Flash's, within Gemini's envelope
    assert ModelCaps.of(engine.provider("gemini").caps_for("gemini-3-pro-image")) == want
    row = next(r for r in store.rows(engine.db) if r.model == "gemini-3-pro-image")
    assert row.caps == want and row.caps_by == "ada" and row.edited_by is None
    shown = edits.table([row], T0.date()).iloc[0]["takes"]
    assert shown.endswith("(edited by ada)") and "up to 2 per job" in shown
    assert store.sync_seed(engine.db, T0) == 0  # a restart keeps the edit
    assert engine.models().caps("gemini", "gemini-3-pro-image").max_n == 2
    caps.set_caps(engine.db, "ada", "gemini", "gemini-3-pro-image", None, T0)
    assert engine.models().caps("gemini", "gemini-3-pro-image") == registry.get(
        "gemini").caps_on("gemini-3-pro-image", engine.models().line("gemini"))
    assert engine.models().caps("gemini", "gemini-3-pro-image").max_n == 4


def test_unreadable_caps_text_counts_as_no_edit(engine: Engine) -> None:
    with engine.db.write() as cur:
        cur.execute("UPDATE models SET caps='{not json' WHERE model='gemini-3-pro-image'")
    assert engine.models().caps("gemini", "gemini-3-pro-image").max_n == 4


def test_an_unknown_model_is_refused(engine: Engine) -> None:
    with pytest.raises(store.CatalogError, match="has no model 'nope'"):
        caps.set_caps(engine.db, "ada", "gemini", "nope", ModelCaps(
            aspect_ratios=("1:1",), qualities=("1K",)), T0)
