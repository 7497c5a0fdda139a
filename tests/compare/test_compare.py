"""Compare grids: rows and axes → cells and jobs, the seed rules, the size guard, estimates."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

import pytest

from lib.compare import grid as cmp
from lib.compare.estimate import estimate
from lib.core import config
from lib.engine import Engine
from lib.money import budgets, costs
from tests.fakes.openai import KEY as OPENAI_KEY
from tests.helpers import TickingClock

STABILITY_KEY = "sk-" + "test-stability"  # a split literal, like the fakes' keys


@pytest.fixture
def engine() -> Iterator[Engine]:
    eng = Engine(config.load(), clock=TickingClock())
    yield eng
    eng.close()


def grid(rows: str = "a fox\na boat", axes: list[cmp.Axis] | None = None, **kw: object
         ) -> cmp.Grid:
    return cmp.Grid(rows=cmp.rows_from_text(rows), columns=cmp.columns_from_axes(axes or []),
                    **kw)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- rows


def test_rows_are_one_per_non_empty_line_of_typed_or_uploaded_text() -> None:
    assert cmp.rows_from_text(" a fox \n\n a boat\n") == ("a fox", "a boat")
    assert cmp.rows_from_file("\ufeffone\r\ntwo\r\n".encode()) == ("one", "two")


def test_more_than_fifty_prompts_are_refused_with_what_to_do() -> None:
    assert len(cmp.rows_from_text("\n".join(f"p{i}" for i in range(50)))) == 50
    with pytest.raises(cmp.CompareError, match="51 prompts.*at most 50"):
        cmp.rows_from_text("\n".join(f"p{i}" for i in range(51)))


def test_a_file_that_is_not_text_is_refused() -> None:
    with pytest.raises(cmp.CompareError, match="not UTF-8"):
        cmp.rows_from_file(b"\xff\xfe\x00\x81garbage")


def test_search_and_replace_makes_one_row_per_replacement() -> None:
    rows = cmp.rows_from_replace("a red fox in snow", "red", "red\nblue\n\n golden ")
    assert rows == ("a red fox in snow", "a blue fox in snow", "a golden fox in snow")
    with pytest.raises(cmp.CompareError, match="does not contain"):
        cmp.rows_from_replace("a fox", "red", "blue")


# --------------------------------------------------------------------------- expansion


def test_columns_are_the_product_of_the_axes_in_axis_order() -> None:
    cols = cmp.columns_from_axes([cmp.Axis("model", ("sandbox/sandbox-v1", "openai/gpt-image-2")),
                                  cmp.Axis("quality", ("draft", "high")), cmp.Axis("style", ())])
    assert [c.label for c in cols] == [
        "sandbox/sandbox-v1 · draft", "sandbox/sandbox-v1 · high",
        "openai/gpt-image-2 · draft", "openai/gpt-image-2 · high"]
    assert cmp.columns_from_axes([]) == (cmp.Column(),)


def test_too_many_columns_or_a_bad_seed_are_refused() -> None:
    with pytest.raises(cmp.CompareError, match="13 columns"):
        cmp.columns_from_axes([cmp.Axis("seed", tuple(str(i) for i in range(13)))])
    with pytest.raises(cmp.CompareError, match="whole number"):
        cmp.Axis("seed", ("-3",))


def test_expand_makes_one_job_per_cell_in_one_batch_with_one_seed() -> None:
    g = grid("a fox\na boat\na kite", [cmp.Axis("quality", ("draft", "standard", "high"))],
             seed=4242)
    cells = cmp.expand(g, "cmp1")
    assert len(cells) == g.size == 9
    assert [(c.row, c.col) for c in cells[:4]] == [(0, 0), (0, 1), (0, 2), (1, 0)]
    specs = [c.spec for c in cells]
    assert all(s is not None for s in specs)
    assert {s.batch_id for s in specs if s} == {"cmp1"}
    assert {s.seed for s in specs if s} == {4242}  # one seed: differences come from the axis
    assert [s.quality for s in specs[:3] if s] == ["draft", "standard", "high"]
    assert specs[4] and specs[4].prompt == "a boat"
    assert len({s.client_token for s in specs if s}) == 9  # each cell is its own job


def test_a_seed_axis_overrides_the_grid_seed_per_column() -> None:
    cells = cmp.expand(grid("a fox", [cmp.Axis("seed", ("1", "2"))], seed=99))
    assert [c.spec.seed for c in cells if c.spec] == [1, 2]


def test_a_seedless_model_gets_no_seed_and_its_cells_say_so(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    cells = cmp.expand(grid("a fox", [cmp.Axis("model", ("sandbox/sandbox-v1",
                                                         "openai/gpt-image-2"))], seed=7))
    sandbox, openai = cells
    assert sandbox.spec and sandbox.spec.seed == 7 and not sandbox.notes
    assert openai.spec and openai.spec.seed is None
    assert "no fixed seed" in openai.notes[0]
    assert cmp.column_notes(cells) == {1: openai.notes[0]}


def test_a_provider_without_a_key_is_not_submitted_and_says_how_to_set_it_up() -> None:
    cells = cmp.expand(grid("a fox\na boat", [cmp.Axis("model", ("sandbox/sandbox-v1",
                                                                 "gemini/gemini-2.5-flash-image"))]))
    blocked = [c for c in cells if c.col == 1]
    assert len(blocked) == 2 and all(c.spec is None for c in blocked)
    assert "GEMINI_API_KEY" in (blocked[0].blocked or "")
    assert all(c.spec is not None for c in cells if c.col == 0)


def test_sizes_fit_each_provider_pixel_sizes_or_aspect_ratios(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STABILITY_API_KEY", STABILITY_KEY)
    g = grid("a fox", [cmp.Axis("model", ("sandbox/sandbox-v1", "stability/core")),
                       cmp.Axis("size", ("1536x1024",))])
    sandbox, stability = cmp.expand(g)
    assert sandbox.spec and (sandbox.spec.width, sandbox.spec.height) == (1536, 1024)
    assert stability.spec and stability.spec.aspect_ratio == "3:2"
    assert stability.spec.width is None and "1536x1024 → 3:2" in stability.notes


def test_a_quality_the_model_lacks_falls_back_to_its_default_with_a_note() -> None:
    (cell,) = cmp.expand(grid("a fox", [cmp.Axis("quality", ("ultra",))]))
    assert cell.spec and cell.spec.quality == "standard"
    assert "quality ultra not offered" in cell.notes[0]


def test_the_grid_round_trips_through_its_saved_axes() -> None:
    g = grid("a fox\na boat", [cmp.Axis("seed", ("3", "4"))], seed=11,
             base=cmp.Column(provider="sandbox", style="none", size="512x512"))
    assert cmp.Grid.from_json(g.to_json()) == g


def test_the_size_guard_asks_above_the_configured_number_of_cells(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMPTBOARD_COMPARE_CONFIRM_CELLS", "6")
    axes = [cmp.Axis("quality", ("draft", "standard", "high"))]
    assert not cmp.needs_confirmation(grid("a\nb", axes))  # 6 cells: at the limit
    assert cmp.needs_confirmation(grid("a\nb\nc", axes))  # 9 cells
    monkeypatch.delenv("PROMPTBOARD_COMPARE_CONFIRM_CELLS")
    assert cmp.confirm_cells() == 24  # the documented default
    big = grid("\n".join(f"p{i}" for i in range(50)), [cmp.Axis("seed", tuple("123456"))])
    assert big.size == 300 and cmp.needs_confirmation(big)


# --------------------------------------------------------------------------- estimates


def _seed_price(provider: str, model: str) -> Decimal:
    rows = [r for r in costs.seed_rows() if (r["provider"], r["model"]) == (provider, model)]
    assert len(rows) == 1, rows
    return Decimal(rows[0]["usd_per_unit"])


def test_the_estimate_prices_each_cell_from_the_price_table(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STABILITY_API_KEY", STABILITY_KEY)
    g = grid("a fox\na boat\na kite", [cmp.Axis("model", ("stability/core", "stability/ultra",
                                                          "sandbox/sandbox-v1"))])
    est = estimate(engine, "ann", cmp.expand(g))
    expected = 3 * _seed_price("stability", "core") + 3 * _seed_price("stability", "ultra")
    assert est.images == 9 and est.blocked == 0 and est.unpriced == 0
    assert est.cost_usd == expected == Decimal("0.33")
    assert est.seconds > 0 and not est.from_history
    assert est.budget_left_usd is None and not est.over_budget


def test_a_newer_price_row_changes_the_estimate(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STABILITY_API_KEY", STABILITY_KEY)
    with engine.db.write() as cur:
        cur.execute("INSERT INTO prices (provider, model, variant, unit, usd_per_unit, "
                    "effective_from, source, created_by, created_at) VALUES "
                    "('stability', 'core', '*', 'images', 0.05, ?, 'test', 'admin', ?)",
                    [datetime(2026, 9, 1), datetime(2026, 9, 1)])
    est = estimate(engine, "ann", cmp.expand(grid("a\nb", [cmp.Axis("model",
                                                                  ("stability/core",))])))
    assert est.cost_usd == Decimal("0.10")


def test_unknown_prices_and_unconfigured_providers_are_counted_not_summed(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPLICATE_API_TOKEN", "r8_" + "test")
    g = grid("a fox", [cmp.Axis("model", ("replicate/owner/some-model:abc123",
                                          "gemini/gemini-2.5-flash-image"))])
    est = estimate(engine, "ann", cmp.expand(g))
    assert (est.images, est.blocked, est.unpriced, est.cost_usd) == (1, 1, 1, Decimal(0))


def test_the_estimate_reports_the_budget_left(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STABILITY_API_KEY", STABILITY_KEY)
    now = engine.clock.now()
    budgets.set_budget(engine.db, "user", "ann", Decimal("0.05"), "admin", now)
    budgets.set_budget(engine.db, "team", "team", Decimal("10"), "admin", now)
    est = estimate(engine, "ann", cmp.expand(grid("a\nb", [cmp.Axis("model",
                                                                  ("stability/core",))])))
    assert est.budget_left_usd == Decimal("0.05")  # the tighter of the two
    assert est.cost_usd == Decimal("0.06") and est.over_budget
