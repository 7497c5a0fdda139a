"""Saved comparisons: a run end to end on the sandbox, retries, winners, ratings, sharing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal

import pytest

from lib import jobs
from lib.compare import grid as cmp
from lib.compare import store
from lib.core import config
from lib.engine import Engine
from lib.gallery import queries as gallery
from lib.providers.base import (
    NULL_CONTEXT,
    GenerationRequest,
    GenerationResult,
    JobContext,
    Provider,
    SafetyBlocked,
)
from lib.providers.registry import create
from lib.providers.sandbox import SandboxProvider
from tests.helpers import TickingClock, run_next

ANN, BOB, ADA, ANA = (gallery.Viewer("ann", "member"), gallery.Viewer("bob", "member"),
                      gallery.Viewer("ada", "admin"), gallery.Viewer("ana", "analyst"))


class FlakySandbox(SandboxProvider):
    """The sandbox, except that a prompt with "flaky" is refused the first time it is drawn."""

    failed: set[str] = set()
    lock = threading.Lock()

    def generate(self, req: GenerationRequest, ctx: JobContext = NULL_CONTEXT
                 ) -> GenerationResult:
        with self.lock:
            first = "flaky" in req.prompt and req.prompt not in self.failed
            self.failed.add(req.prompt)
        if first:
            raise SafetyBlocked("The pretend filter refused this once; try again.")
        return super().generate(req, ctx)


def _factory(provider_id: str) -> Provider:
    return FlakySandbox(latency=0) if provider_id == "sandbox" else create(provider_id)


@pytest.fixture
def engine() -> Iterator[Engine]:
    FlakySandbox.failed = set()
    eng = Engine(config.load(), clock=TickingClock(), provider_factory=_factory)
    yield eng
    eng.close()
    assert not eng.internal_errors, eng.internal_errors


def run_all(engine: Engine) -> None:
    while run_next(engine) is not None:
        pass


def small_grid(rows: str = "a fox\na flaky boat") -> cmp.Grid:
    axes = [cmp.Axis("quality", ("draft", "standard", "high")), cmp.Axis("size", ("512x512",))]
    return cmp.Grid(rows=cmp.rows_from_text(rows), columns=cmp.columns_from_axes(axes), seed=5)


def by_cell(engine: Engine, viewer: gallery.Viewer, cid: str) -> dict[tuple[int, int],
                                                                     store.CellState]:
    comp = store.get(engine, viewer, cid)
    assert comp is not None
    return {(s.row, s.col): s for s in store.cell_states(engine, viewer, comp)}


def test_a_comparison_runs_end_to_end_and_a_failed_cell_is_retried_alone(
        engine: Engine) -> None:
    cid = store.start(engine, ANN, small_grid(), "Quality on two prompts")
    batch = engine.db.fetchall("SELECT status, seed, quality FROM jobs WHERE batch_id = ? "
                               "ORDER BY created_at", [cid])
    assert len(batch) == 6 and {r[0] for r in batch} == {jobs.QUEUED} and {r[1] for r in batch} \
        == {5}
    comp = store.get(engine, ANN, cid)
    assert comp is not None
    assert store.any_active(store.cell_states(engine, ANN, comp))

    run_all(engine)
    cells = by_cell(engine, ANN, cid)
    assert not store.any_active(list(cells.values()))
    assert all(cells[(0, c)].status == jobs.SUCCEEDED and cells[(0, c)].thumb_key
               for c in range(3))
    failed = [k for k, s in cells.items() if s.status == jobs.FAILED]
    assert len(failed) == 1 and failed[0][0] == 1  # the first "flaky boat" drawn, only
    row, col = failed[0]
    assert "refused this once" in (cells[(row, col)].error or "")
    assert cells[(0, 0)].cost_usd == Decimal(0) and cells[(0, 0)].seed == 5

    old_job = cells[(row, col)].job_id
    new_job = store.retry(engine, ANN, cid, row, col)
    assert new_job != old_job
    others = {k: s.job_id for k, s in cells.items() if k != (row, col)}
    run_all(engine)
    after = by_cell(engine, ANN, cid)
    assert after[(row, col)].job_id == new_job and after[(row, col)].status == jobs.SUCCEEDED
    assert {k: s.job_id for k, s in after.items() if k != (row, col)} == others  # alone
    assert jobs.get(engine, new_job).batch_id == cid  # type: ignore[union-attr]


def test_only_a_failed_cell_of_your_own_can_be_retried(engine: Engine) -> None:
    cid = store.start(engine, ANN, small_grid("a fox"), "t", shared=True)
    run_all(engine)
    with pytest.raises(cmp.CompareError, match="Only a failed"):
        store.retry(engine, ANN, cid, 0, 0)
    with pytest.raises(cmp.CompareError, match="Only the owner"):
        store.retry(engine, BOB, cid, 0, 0)


def test_cancelling_the_rest_stops_queued_cells_which_can_then_run_again(
        engine: Engine) -> None:
    cid = store.start(engine, ANN, small_grid("a fox\na boat"), "t")
    assert run_next(engine) == jobs.SUCCEEDED  # one cell done before the cancel
    with pytest.raises(cmp.CompareError, match="not found"):  # not shared: bob cannot see it
        store.cancel_active(engine, BOB, cid)
    assert store.cancel_active(engine, ANN, cid) == 5
    cells = by_cell(engine, ANN, cid)
    assert sorted(s.status for s in cells.values()) == [jobs.CANCELLED] * 5 + [jobs.SUCCEEDED]
    assert run_next(engine) is None
    row, col = next(k for k, s in cells.items() if s.status == jobs.CANCELLED)
    store.retry(engine, ANN, cid, row, col)
    assert run_next(engine) == jobs.SUCCEEDED


class _Killed(BaseException):
    """The process dying part-way through queuing a grid."""


def test_a_process_dying_while_queuing_leaves_every_cell_listed_and_runnable(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    real_submit, calls = jobs.submit, []

    def dying_submit(*args: object, **kwargs: object) -> str:
        if len(calls) == 2:
            raise _Killed
        calls.append(1)
        return real_submit(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(jobs, "submit", dying_submit)
    with pytest.raises(_Killed):
        store.start(engine, ANN, small_grid("a fox\na boat"), "t")
    monkeypatch.setattr(jobs, "submit", real_submit)
    (cid,) = [r[0] for r in engine.db.fetchall("SELECT id FROM comparisons")]
    comp = store.get(engine, ANN, cid)
    assert comp is not None
    cells = by_cell(engine, ANN, cid)
    assert len(cells) == 6  # none silently missing
    waiting = [k for k, c in cells.items() if c.status == store.NOT_QUEUED]
    assert len(waiting) == 4 and all("server stopped" in (cells[k].note or "") for k in waiting)
    for row, col in waiting:
        store.retry(engine, ANN, cid, row, col)
    run_all(engine)
    assert {c.status for c in by_cell(engine, ANN, cid).values()} == {jobs.SUCCEEDED}


def test_a_double_click_on_run_makes_one_comparison(engine: Engine) -> None:
    grid = small_grid("a fox")
    token = store.run_token("ann", grid, "t")
    first = store.start(engine, ANN, grid, "t", token=token)
    second = store.start(engine, ANN, grid, "t", token=token)
    assert first == second
    assert engine.db.scalar("SELECT count(*) FROM jobs WHERE batch_id = ?", [first]) == 3


def test_a_large_grid_needs_confirmation(engine: Engine, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    monkeypatch.setenv("PROMPTBOARD_COMPARE_CONFIRM_CELLS", "4")
    with pytest.raises(cmp.NeedsConfirmation, match="6 images, more than 4"):
        store.start(engine, ANN, small_grid(), "t")
    assert engine.db.scalar("SELECT count(*) FROM jobs") == 0
    assert store.start(engine, ANN, small_grid(), "t", confirmed=True)


def test_unconfigured_columns_are_saved_with_their_hint_and_run_once_configured(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    grid = cmp.Grid(rows=("a fox",), columns=cmp.columns_from_axes(
        [cmp.Axis("model", ("sandbox/sandbox-v1", "stability/core"))]), seed=3)
    cid = store.start(engine, ANN, grid, "t")
    cells = by_cell(engine, ANN, cid)
    assert cells[(0, 1)].status == store.BLOCKED and cells[(0, 1)].job_id is None
    assert "STABILITY_API_KEY" in (cells[(0, 1)].note or "")
    assert engine.db.scalar("SELECT count(*) FROM jobs") == 1
    monkeypatch.setenv("STABILITY_API_KEY", "sk-" + "test")
    job_id = store.retry(engine, ANN, cid, 0, 1)
    job = jobs.get(engine, job_id)
    assert job is not None and job.provider == "stability" and job.seed == 3


def test_winners_and_ratings_use_the_gallery_tables(engine: Engine) -> None:
    cid = store.start(engine, ANN, small_grid("a fox"), "t", shared=True)
    run_all(engine)
    store.set_winner(engine, ANN, cid, 0, 2)
    assert store.winners(engine, cid) == {0: 2}
    store.set_winner(engine, ANN, cid, 0, None)
    assert store.winners(engine, cid) == {}
    with pytest.raises(cmp.CompareError, match="not part"):
        store.set_winner(engine, ANN, cid, 0, 3)
    with pytest.raises(cmp.CompareError, match="Only the owner"):
        store.set_winner(engine, BOB, cid, 0, 1)
    store.set_winner(engine, ADA, cid, 0, 1)  # an admin may
    image_id = by_cell(engine, BOB, cid)[(0, 1)].image_id
    assert image_id
    gallery.rate(engine.db, BOB, image_id, 4, engine.clock.now())
    gallery.rate(engine.db, ANN, image_id, 2, engine.clock.now())
    seen = by_cell(engine, ANN, cid)[(0, 1)]
    assert (seen.my_rating, seen.avg_rating, seen.ratings) == (2, 3.0, 2)
    detail = gallery.get_image(engine.db, ANN, image_id)
    assert detail is not None and detail.ratings == 2  # the gallery sees the same ratings


# --------------------------------------------------------------------------- sharing


def test_sharing_respects_roles(engine: Engine) -> None:
    cid = store.start(engine, ANN, small_grid("a fox"), "private")
    run_all(engine)
    assert store.get(engine, ANN, cid) is not None
    assert store.get(engine, ADA, cid) is not None  # admins see everything
    assert store.get(engine, BOB, cid) is None  # the same answer as a missing one
    assert store.get(engine, BOB, "nope") is None
    assert store.get(engine, ANA, cid) is None  # analysts have no Compare page: fail closed
    assert [s.id for s in store.list_for(engine, BOB)] == []
    with pytest.raises(cmp.CompareError, match="not found, or it is not shared"):
        store.set_shared(engine, BOB, cid, True)

    store.set_shared(engine, ANN, cid, True)
    assert [s.id for s in store.list_for(engine, BOB)] == [cid]
    assert store.get(engine, ANA, cid) is None
    cells = by_cell(engine, BOB, cid)
    assert all(s.thumb_key and not s.image_hidden for s in cells.values())  # images shared too
    with pytest.raises(cmp.CompareError, match="Only the owner"):
        store.set_shared(engine, BOB, cid, False)

    store.set_shared(engine, ANN, cid, False)
    assert store.get(engine, BOB, cid) is None


def test_a_shared_comparison_withholds_images_the_owner_made_private_again(
        engine: Engine) -> None:
    cid = store.start(engine, ANN, small_grid("a fox"), "t", shared=True)
    run_all(engine)
    by_cell(engine, ANN, cid)  # the owner's view shares the images that finished since
    image_id = by_cell(engine, BOB, cid)[(0, 0)].image_id
    assert image_id
    gallery.set_shared(engine.db, ANN, [image_id], False)
    hidden = by_cell(engine, BOB, cid)[(0, 0)]
    assert hidden.image_hidden and hidden.image_id is None and hidden.thumb_key is None


def test_analysts_and_unknown_roles_cannot_start_a_comparison(engine: Engine) -> None:
    with pytest.raises(cmp.CompareError, match="Only members and admins"):
        store.start(engine, ANA, small_grid("a fox"), "t")


def test_a_grid_over_the_budget_is_refused_before_anything_is_saved_or_queued(
    engine: Engine,
) -> None:
    from lib.money import budgets

    budgets.set_budget(engine.db, "user", "ann", Decimal("0.20"), "ada", engine.clock.now())
    with engine.db.write() as cur:  # 6 cells x $0.04 = $0.24 > $0.20; the first five fit
        cur.execute("UPDATE prices SET usd_per_unit = 0.04 WHERE provider = 'sandbox'")
    with pytest.raises(cmp.CompareError) as err:
        store.start(engine, ANN, small_grid(), "t")
    assert "this grid of 6 jobs ($0.24)" in str(err.value) and "$0.20 is left" in str(err.value)
    assert engine.db.scalar("SELECT count(*) FROM jobs") == 0
    assert engine.db.scalar("SELECT count(*) FROM comparisons") == 0
    budgets.set_budget(engine.db, "user", "ann", Decimal("0.24"), "ada", engine.clock.now())
    cid = store.start(engine, ANN, small_grid(), "t")
    assert engine.db.scalar("SELECT count(*) FROM jobs WHERE batch_id = ?", [cid]) == 6
