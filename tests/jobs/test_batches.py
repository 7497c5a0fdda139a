"""Batches and seeds: N jobs sharing a batch id, seeds recorded per job, "more like this"."""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Iterator
from decimal import Decimal

import pytest

from lib import jobs
from lib.core import config
from lib.engine import Engine
from lib.gallery import queries as gallery
from lib.gallery import variations
from lib.imaging import images as imaging
from lib.jobs import batches
from lib.jobs import model as jobmodel
from lib.money import budgets
from lib.providers import registry
from tests.helpers import TickingClock, run_next


@pytest.fixture
def clock() -> TickingClock:
    return TickingClock()


@pytest.fixture
def engine(clock: TickingClock) -> Iterator[Engine]:
    eng = Engine(config.load(), clock=clock)
    yield eng
    eng.close()
    assert not eng.internal_errors, eng.internal_errors


def _spec(**kw: object) -> jobs.JobSpec:
    return jobs.JobSpec(**{"prompt": "a fox in the snow", "width": 64, "height": 64, **kw})


def _rows(engine: Engine, ids: list[str]) -> list[tuple[object, ...]]:
    return [(j.batch_id, j.seed, j.n, j.prompt) for j in jobs.load(engine, ids)]


def _run_all(engine: Engine) -> None:
    while run_next(engine) is not None:
        pass


@pytest.mark.parametrize(("count", "base", "step", "expected"), [
    (3, 100, 1, [100, 101, 102]),
    (3, 100, 2, [100, 102, 104]),  # two images a job: image i uses seed + i, none repeats
    (1, 7, 1, [7]),
])
def test_consecutive_seeds_count_up_from_the_base(count: int, base: int, step: int,
                                                  expected: list[int]) -> None:
    assert batches.seeds(count, batches.CONSECUTIVE, base, step) == expected


def test_random_seeds_are_in_range_and_reproducible_with_a_seeded_rng() -> None:
    one = batches.seeds(5, batches.RANDOM, None, rng=random.Random(1))
    assert one == batches.seeds(5, batches.RANDOM, None, rng=random.Random(1))
    assert len(set(one)) == 5 and all(1 <= s <= batches.MAX_SEED for s in one)


def test_consecutive_without_a_base_starts_somewhere_random_but_stays_consecutive() -> None:
    got = batches.seeds(4, batches.CONSECUTIVE, None, rng=random.Random(3))
    assert got == list(range(got[0], got[0] + 4)) and got[0] >= 1


@pytest.mark.parametrize(("count", "mode", "base", "message"), [
    (0, batches.RANDOM, None, "1 to 16"),
    (17, batches.RANDOM, None, "1 to 16"),
    (2, "sideways", None, "consecutive or random"),
    (3, batches.CONSECUTIVE, batches.MAX_SEED - 1, "start at"),
])
def test_bad_batches_are_refused_with_a_message(count: int, mode: str, base: int | None,
                                                message: str) -> None:
    with pytest.raises(jobs.SubmitError, match=message):
        batches.seeds(count, mode, base)


def test_batch_seeds_share_the_job_models_32_bit_limit() -> None:
    assert batches.MAX_SEED == jobmodel.MAX_SEED == 2**32 - 1
    assert batches.seeds(2, batches.CONSECUTIVE, 3_000_000_000) == [3_000_000_000,
                                                                     3_000_000_001]
    many = batches.seeds(16, batches.RANDOM, None, rng=random.Random(5))
    assert max(many) > 2**31 and all(1 <= s <= jobmodel.MAX_SEED for s in many)


def test_a_consecutive_base_whose_last_job_seed_is_the_limit_fits_exactly() -> None:
    top = jobmodel.MAX_SEED
    assert batches.seeds(3, batches.CONSECUTIVE, top - 4, step=2) == [top - 4, top - 2, top]
    assert batches.seeds(1, batches.CONSECUTIVE, top) == [top]


def test_a_consecutive_base_one_past_the_limit_is_refused_with_the_highest_start() -> None:
    top = jobmodel.MAX_SEED
    with pytest.raises(jobs.SubmitError) as err:
        batches.seeds(3, batches.CONSECUTIVE, top - 3, step=2)
    assert str(err.value) == ("Seeds go up to 4,294,967,295: for 3 variations counting up by 2, "
                              "start at 4,294,967,291 or lower (not 4,294,967,292).")


def test_variations_too_far_apart_to_fit_are_refused_not_crashed() -> None:
    with pytest.raises(jobs.SubmitError, match="ask for fewer variations or images"):
        batches.seeds(16, batches.CONSECUTIVE, None, step=2**29)


@pytest.mark.parametrize("count", [0, -1, 17, 1000])
@pytest.mark.parametrize("provider", ["sandbox", "openai"])  # openai takes no seed
def test_a_batch_count_outside_1_to_16_is_refused_whether_or_not_the_model_takes_a_seed(
        engine: Engine, monkeypatch: pytest.MonkeyPatch, provider: str, count: int) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-real")
    assert registry.get(provider).model_caps(registry.get(provider).caps.default_model).seed \
        == (provider == "sandbox")
    spec = _spec(provider=provider, width=None, height=None)
    with pytest.raises(jobs.SubmitError, match="A batch has 1 to 16 variations"):
        batches.submit_batch(engine, "ann", spec, count, batches.RANDOM)
    assert engine.db.scalar("SELECT count(*) FROM jobs") == 0


def test_a_batch_ending_on_the_limit_is_queued_and_one_past_it_queues_nothing(
        engine: Engine) -> None:
    top = jobmodel.MAX_SEED
    ids = batches.submit_batch(engine, "ann", _spec(seed=top - 4, n=2), 3, batches.CONSECUTIVE)
    assert [r[1] for r in _rows(engine, ids)] == [top - 4, top - 2, top]
    with pytest.raises(jobs.SubmitError, match="start at 4,294,967,291 or lower"):
        batches.submit_batch(engine, "bob", _spec(seed=top - 3, n=2), 3, batches.CONSECUTIVE)
    assert engine.db.scalar("SELECT count(*) FROM jobs WHERE user_id = 'bob'") == 0


def test_a_consecutive_batch_is_n_jobs_sharing_a_batch_id_with_their_seeds(
        engine: Engine) -> None:
    ids = batches.submit_batch(engine, "ann", _spec(seed=500, n=2), 3, batches.CONSECUTIVE)
    rows = _rows(engine, ids)
    assert len({r[0] for r in rows}) == 1 and rows[0][0] is not None
    assert [r[1] for r in rows] == [500, 502, 504]
    assert all(r[2] == 2 and r[3] == "a fox in the snow" for r in rows)
    _run_all(engine)
    seeds = engine.db.fetchall("SELECT seed FROM images ORDER BY seed")
    assert [s[0] for s in seeds] == [500, 501, 502, 503, 504, 505]


def test_a_random_batch_records_each_seed_so_a_job_can_be_made_again(engine: Engine) -> None:
    ids = batches.submit_batch(engine, "ann", _spec(), 3, batches.RANDOM, rng=random.Random(9))
    expected = batches.seeds(3, batches.RANDOM, None, rng=random.Random(9))
    assert [r[1] for r in _rows(engine, ids)] == expected
    _run_all(engine)
    first = engine.db.fetchone("SELECT seed, bytes FROM images WHERE job_id = ?", [ids[0]])
    again = jobs.submit(engine, "ann", _spec(seed=first[0]))  # type: ignore[index]
    run_next(engine)
    redo = engine.db.fetchone("SELECT seed, bytes FROM images WHERE job_id = ?", [again])
    assert redo == first


@pytest.mark.parametrize("mode", batches.SEED_MODES)
def test_one_variation_is_a_plain_job_with_the_seed_as_given(engine: Engine, mode: str) -> None:
    [job_id] = batches.submit_batch(engine, "ann", _spec(seed=42), 1, mode)
    assert _rows(engine, [job_id]) == [(None, 42, 1, "a fox in the snow")]


def test_a_model_without_seeds_gets_independent_runs_without_made_up_seeds(
        engine: Engine) -> None:
    from lib.catalog import caps
    from lib.providers.types import ModelCaps
    took = ModelCaps.of(engine.models().caps("sandbox", "sandbox-v1"))
    caps.set_caps(engine.db, "ada", "sandbox", "sandbox-v1",  # an admin says: no seed
                  dataclasses.replace(took, seed=False), engine.clock.now())
    ids = batches.submit_batch(engine, "ann", _spec(seed=5), 2, batches.CONSECUTIVE)
    assert [r[1] for r in _rows(engine, ids)] == [None, None]


def test_a_double_click_queues_one_batch(engine: Engine) -> None:
    first = batches.submit_batch(engine, "ann", _spec(), 4, batches.RANDOM)
    second = batches.submit_batch(engine, "ann", _spec(), 4, batches.RANDOM)
    assert second == first
    assert engine.db.scalar("SELECT count(*) FROM jobs") == 4


def _price_sandbox(engine: Engine, usd: str) -> None:
    with engine.db.write() as cur:  # the sandbox is free: give it a price to hit the budget
        cur.execute("UPDATE prices SET usd_per_unit = ? WHERE provider = 'sandbox'", [usd])


def test_a_batch_over_the_budget_is_refused_whole_and_leaves_no_jobs(engine: Engine) -> None:
    budgets.set_budget(engine.db, "user", "ann", Decimal("1"), "root", engine.clock.now())
    _price_sandbox(engine, "0.4")  # 3 variations x $0.40 = $1.20 > $1.00; the first two fit
    with pytest.raises(jobs.OverBudget) as err:
        batches.submit_batch(engine, "ann", _spec(), 3, batches.RANDOM)
    assert "this batch of 3 jobs ($1.20)" in str(err.value)
    assert "$1.00 is left" in str(err.value) and "cancelled" not in str(err.value)
    assert engine.db.scalar("SELECT count(*) FROM jobs") == 0


def test_a_batch_that_fits_the_budget_exactly_is_queued(engine: Engine) -> None:
    budgets.set_budget(engine.db, "user", "ann", Decimal("1.20"), "root", engine.clock.now())
    _price_sandbox(engine, "0.4")
    assert len(batches.submit_batch(engine, "ann", _spec(), 3, batches.RANDOM)) == 3


def test_a_team_batch_refused_to_an_admin_does_not_ask_them_to_ask_themselves(
    engine: Engine,
) -> None:
    from lib.auth import accounts as auth
    from tests.helpers import TEST_PASSWORD

    auth.create_user(engine.db, "alice", "Alice", None, "admin", TEST_PASSWORD,
                     now=engine.clock.now())
    budgets.set_budget(engine.db, "team", "team", Decimal("0.42"), "alice", engine.clock.now())
    _price_sandbox(engine, "0.04")  # 12 x $0.04 = $0.48 > $0.42
    with pytest.raises(jobs.OverBudget) as err:
        batches.submit_batch(engine, "alice", _spec(), 12, batches.RANDOM)
    assert "Ask" not in str(err.value) and "Admin → Budgets" in str(err.value)
    assert "($0.48)" in str(err.value) and "$0.42 is left" in str(err.value)


def test_many_batches_at_once_cannot_bypass_the_budget(engine: Engine) -> None:
    import threading

    budgets.set_budget(engine.db, "user", "ann", Decimal("1"), "root", engine.clock.now())
    _price_sandbox(engine, "0.1")  # batches of 3 cost $0.30: three fit in $1.00, not four
    start = threading.Barrier(8)
    refused: list[str] = []

    def go(i: int) -> None:
        start.wait()
        try:
            batches.submit_batch(engine, "ann", _spec(prompt=f"race {i}"), 3, batches.RANDOM)
        except jobs.OverBudget as exc:
            refused.append(str(exc))

    threads = [threading.Thread(target=go, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(refused) == 5
    assert engine.db.scalar("SELECT count(*) FROM jobs") == 9
    assert engine.db.scalar("SELECT count(*) FROM jobs WHERE status = 'cancelled'") == 0


@pytest.mark.parametrize("count", [0, 17, 20])
def test_a_variation_count_out_of_range_is_refused_with_the_limit(engine: Engine,
                                                                  count: int) -> None:
    with pytest.raises(jobs.SubmitError, match="1 to 16 variations"):
        batches.submit_batch(engine, "ann", _spec(), count, batches.RANDOM)
    assert engine.db.scalar("SELECT count(*) FROM jobs") == 0


def _image(engine: Engine, user: str, **kw: object) -> str:
    job_id = jobs.submit(engine, user, _spec(**kw))
    run_next(engine)
    return str(engine.db.scalar("SELECT id FROM images WHERE job_id = ?", [job_id]))


def test_more_like_this_keeps_the_settings_and_picks_new_seeds(engine: Engine) -> None:
    wm = imaging.WatermarkSpec(text="ACME", position="top-left", opacity=0.4)
    src = _image(engine, "bob", seed=11, style="cartoon", negative_prompt="blur",
                 quality="high", watermark=wm)
    gallery.set_shared(engine.db, gallery.Viewer("bob", "member"), [src], True)
    ids = variations.more_like_this(engine, gallery.Viewer("ann", "member"), src, 3)
    made = jobs.load(engine, ids)
    assert {j.user_id for j in made} == {"ann"}  # the viewer pays for their variations
    assert len({j.batch_id for j in made}) == 1
    assert 11 not in {j.seed for j in made} and len({j.seed for j in made}) == 3
    for j in made:
        assert (j.prompt, j.style, j.quality, j.width, j.height) == (
            "a fox in the snow", "cartoon", "high", 64, 64)
        assert j.negative_prompt == "blur" and j.watermark and "ACME" in j.watermark


def test_more_like_this_refuses_private_images_and_roles_that_cannot_generate(
        engine: Engine) -> None:
    src = _image(engine, "bob")
    with pytest.raises(jobs.SubmitError, match="cannot see it"):
        variations.more_like_this(engine, gallery.Viewer("ann", "member"), src, 2)
    with pytest.raises(jobs.SubmitError, match="cannot generate"):
        variations.more_like_this(engine, gallery.Viewer("ana", "analyst"), src, 2)
    assert engine.db.scalar("SELECT count(*) FROM jobs") == 1


def _logo() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGBA", (24, 24), "red").save(buf, "PNG")
    return buf.getvalue()


def test_more_like_this_never_reuses_a_teammates_reference_image_or_logo(
        engine: Engine) -> None:
    wm = imaging.WatermarkSpec(text="BOB", logo=_logo(), position="center")
    src = _image(engine, "bob", watermark=wm, reference=_logo())
    bob, ann = gallery.Viewer("bob", "member"), gallery.Viewer("ann", "member")
    gallery.set_shared(engine.db, bob, [src], True)
    img = gallery.get_image(engine.db, ann, src)
    assert img is not None
    assert variations.private_inputs(img, ann) == ("reference image", "watermark logo")
    made = jobs.load(engine, variations.more_like_this(engine, ann, src, 2))
    assert {j.reference_key for j in made} == {None}
    for j in made:  # the text stays; bob's logo does not
        assert json.loads(j.watermark or "{}")["text"] == "BOB"
        assert json.loads(j.watermark or "{}")["logo"] is None
    assert variations.private_inputs(img, bob) == ()
    own = jobs.load(engine, variations.more_like_this(engine, bob, src, 2))
    assert all(j.reference_key and json.loads(j.watermark or "{}")["logo"] for j in own)


def _batch_and_single(engine: Engine, user: str = "ann") -> tuple[list[str], str]:
    ids = batches.submit_batch(engine, user, _spec(prompt="batch fox"), 3, batches.RANDOM)
    single = jobs.submit(engine, user, _spec(prompt="lone owl"))
    _run_all(engine)
    return ids, str(engine.db.scalar("SELECT id FROM images WHERE job_id = ?", [single]))


def test_the_gallery_folds_a_batch_into_one_tile_with_its_count(engine: Engine) -> None:
    ids, single = _batch_and_single(engine)
    ann = gallery.Viewer("ann", "member")
    flat = gallery.search(engine.db, ann, gallery.GalleryFilter())
    assert flat.total == 4 and {c.group_count for c in flat.rows} == {1}
    grouped = gallery.search(engine.db, ann, gallery.GalleryFilter(group_batches=True))
    assert grouped.total == 2
    by_prompt = {c.prompt: c for c in grouped.rows}
    assert by_prompt["batch fox"].group_count == 3 and by_prompt["lone owl"].group_count == 1
    assert by_prompt["batch fox"].batch_id == batches.batch_of(engine, ids[0])
    assert by_prompt["lone owl"].id == single


def test_opening_a_batch_shows_its_images_only(engine: Engine) -> None:
    ids, _ = _batch_and_single(engine)
    batch = batches.batch_of(engine, ids[0]) or ""
    f = gallery.GalleryFilter(batch=batch, group_batches=True)  # opened: never folded
    got = gallery.search(engine.db, gallery.Viewer("ann", "member"), f)
    assert got.total == 3 and {c.job_id for c in got.rows} == set(ids)


def test_grouping_counts_only_the_images_a_member_may_see(engine: Engine) -> None:
    ids, _ = _batch_and_single(engine, "bob")
    bob = gallery.Viewer("bob", "member")
    one = str(engine.db.scalar("SELECT id FROM images WHERE job_id = ?", [ids[1]]))
    gallery.set_shared(engine.db, bob, [one], True)
    f = gallery.GalleryFilter(group_batches=True)
    got = gallery.search(engine.db, gallery.Viewer("ann", "member"), f)
    assert [(c.id, c.group_count) for c in got.rows] == [(one, 1)]
    assert gallery.search(engine.db, gallery.Viewer("root", "admin"), f).total == 2
