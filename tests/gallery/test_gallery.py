"""The gallery's queries: visibility and isolation, filters, sorts, paging, edits, zips."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from lib import jobs
from lib.engine import Engine
from lib.gallery import downloads as gallery_zip
from lib.gallery import queries as g
from lib.imaging import images as imaging
from lib.storage.base import StorageError
from lib.storage.keys import image_keys
from tests.builders import ADMIN, ALICE, ANALYST, BOB, T0
from tests.builders import add_image as add
from tests.helpers import run_next


def ids(engine: Engine, viewer: g.Viewer, **kw: Any) -> list[str]:
    """Ids on the first page of a search."""
    return [c.id for c in g.search(engine.db, viewer, g.GalleryFilter(**kw)).rows]


@pytest.fixture
def team(engine: Engine) -> Engine:
    """alice and bob, each with a private and a shared image; bob's private one is unique."""
    add(engine, "a-private", "alice", prompt="alice private fox")
    add(engine, "a-shared", "alice", shared=True, prompt="alice shared fox",
        created=T0 + timedelta(minutes=1))
    add(engine, "b-private", "bob", prompt="bob secret fox", provider="secretprov",
        model="secret-model", style="cartoon", created=T0 + timedelta(minutes=2))
    add(engine, "b-shared", "bob", shared=True, prompt="bob shared fox",
        created=T0 + timedelta(minutes=3))
    g.set_favourite(engine.db, BOB, "b-private", True, T0)
    g.rate(engine.db, BOB, "b-private", 5, T0)
    return engine


FILTERS: list[dict[str, Any]] = [
    {}, {"users": ("bob",)}, {"text": "secret"}, {"providers": ("secretprov",)},
    {"models": ("secret-model",)}, {"styles": ("cartoon",)}, {"favourites_only": True},
    {"shared_only": True}, {"mine_only": True}, {"include_demo": False},
    {"date_from": date(2026, 11, 1), "date_to": date(2026, 11, 1)},
    *({"sort": s} for s in g.SORTS), {"per_page": 96, "page": 5},
]


@pytest.mark.parametrize("kw", FILTERS, ids=[str(f) for f in FILTERS])
def test_a_member_never_finds_another_members_private_image(team: Engine,
                                                            kw: dict[str, Any]) -> None:
    page = g.search(team.db, ALICE, g.GalleryFilter(**kw))
    assert "b-private" not in [c.id for c in page.rows]
    assert page.total == len(page.rows) <= 3


EVERY = ["a-private", "a-shared", "b-private", "b-shared"]


@pytest.mark.parametrize(("viewer", "sees"), [
    (ALICE, ["a-private", "a-shared", "b-shared"]), (BOB, ["a-shared", "b-private", "b-shared"]),
    (ADMIN, EVERY), (ANALYST, EVERY)])
def test_members_see_own_and_shared_images_admins_and_analysts_all(
        team: Engine, viewer: g.Viewer, sees: list[str]) -> None:
    assert sorted(ids(team, viewer)) == sees
    for image_id in [*EVERY, "no-such-image"]:  # get_image: None when not visible
        assert (g.get_image(team.db, viewer, image_id) is not None) is (image_id in sees)


ACTIONS = {
    "rate": lambda e, v, i: g.rate(e.db, v, i[0], 1, T0),
    "favourite": lambda e, v, i: g.set_favourite(e.db, v, i[0], True, T0),
    "unfavourite": lambda e, v, i: g.set_favourite(e.db, v, i[0], False, T0),
    "share": lambda e, v, i: g.set_shared(e.db, v, i, False),
    "delete": lambda e, v, i: g.delete_images(e.db, e.storage, v, i),
    "zip": lambda e, v, i: gallery_zip.zip_images(e.db, e.storage, v, i),
}


def _snapshot(engine: Engine) -> list[Any]:
    return [sorted(engine.db.fetchall(f"SELECT * FROM {t}"), key=repr)
            for t in ("images", "image_ratings", "favourites")] + [engine.storage.list_keys()]


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("targets", [["b-private"], ["a-private", "b-private"]])
def test_a_member_cannot_touch_another_members_private_image(
        team: Engine, action: str, targets: list[str]) -> None:
    if action in ("rate", "favourite", "unfavourite") and len(targets) > 1:
        targets = targets[1:]
    before = _snapshot(team)
    with pytest.raises(g.GalleryError, match="not found, or you cannot see it"):
        ACTIONS[action](team, ALICE, targets)
    assert _snapshot(team) == before  # all or nothing: alice's own image is untouched too


@pytest.mark.parametrize("action", ["share", "delete"])
def test_only_the_owner_or_an_admin_may_share_or_delete(team: Engine, action: str) -> None:
    for viewer in (ALICE, ANALYST):  # both can see b-shared, neither owns it
        with pytest.raises(g.GalleryError, match="Only its owner or an admin"):
            ACTIONS[action](team, viewer, ["b-shared"])
    assert g.get_image(team.db, ADMIN, "b-shared") is not None
    assert ACTIONS[action](team, ADMIN, ["b-shared"]) == 1
    assert ACTIONS[action](team, BOB, ["b-private"]) == 1


def test_a_shared_image_can_be_rated_favourited_zipped_until_unshared(team: Engine) -> None:
    g.rate(team.db, ALICE, "b-shared", 4, T0)
    g.set_favourite(team.db, ALICE, "b-shared", True, T0)
    card = g.search(team.db, ALICE, g.GalleryFilter(favourites_only=True)).rows
    assert [(c.id, c.my_rating, c.favourite) for c in card] == [("b-shared", 4, True)]
    assert any(n.endswith("_b-shared.png") for n in zipfile.ZipFile(
        io.BytesIO(gallery_zip.zip_images(team.db, team.storage, ALICE, ["b-shared"]))).namelist())
    assert g.set_shared(team.db, BOB, ["b-shared"], False) == 1  # unshared: gone for alice
    assert "b-shared" not in ids(team, ALICE)
    assert g.get_image(team.db, ALICE, "b-shared") is None
    g.set_shared(team.db, BOB, ["b-private", "b-shared"], True)
    assert sorted(ids(team, ALICE, users=("bob",))) == ["b-private", "b-shared"]


def test_facets_list_only_what_the_viewer_may_see(team: Engine) -> None:
    mine = g.facets(team.db, ALICE)
    assert mine == {"providers": ["sandbox"], "models": ["sandbox-v1"], "styles": ["none"]}
    everything = g.facets(team.db, ANALYST)
    assert everything["providers"] == ["sandbox", "secretprov"]
    assert everything["styles"] == ["cartoon", "none"]
    assert everything["users"] == ["alice", "bob"]
    assert g.facets(team.db, BOB)["providers"] == ["sandbox", "secretprov"]


def test_viewer_and_filter_refuse_bad_values() -> None:
    for name, role in (("eve", "superuser"), ("", "admin")):
        with pytest.raises(ValueError, match="role"):
            g.Viewer(name, role)
    with pytest.raises(ValueError, match="Unknown sort"):
        g.GalleryFilter(sort="random")
    f = g.GalleryFilter(page=-3, per_page=5000, providers=["a", "b"])  # type: ignore[arg-type]
    assert (f.page, f.per_page, f.providers) == (0, g.MAX_PER_PAGE, ("a", "b"))



@pytest.mark.parametrize(("text", "expected"), [
    ("LIGHTHOUSE", ["plain"]), ("%", ["percent"]), ("100%", ["percent"]), ("_", ["under"]),
    ("snake_case", ["under"]), ("'", ["quote"]), ("it's", ["quote"]), ("\\", ["slash"]),
    ("  red  ", []), ("%' OR 1=1 --", []), ("", ["plain", "percent", "percents", "under",
                                                 "underx", "quote", "slash"])])
def test_text_search_is_a_literal_case_insensitive_substring(
        engine: Engine, text: str, expected: list[str]) -> None:
    for image_id, prompt in [("plain", "A Lighthouse"), ("percent", "100% real"), ("percents",
                             "100 percent real"), ("under", "snake_case"), ("underx", "snakeXcase"),
                             ("quote", "it's a 'quoted' owl"), ("slash", "back\\slash")]:
        add(engine, image_id, "alice", prompt=prompt)
    assert sorted(ids(engine, ADMIN, text=text, per_page=96)) == sorted(expected)


def test_each_filter_narrows_the_results(engine: Engine) -> None:
    add(engine, "i1", "alice", provider="openai", model="gpt-image-2", style="cartoon")
    add(engine, "i2", "alice", provider="gemini", model="gemini-2.5-flash-image", shared=True)
    add(engine, "i3", "bob", provider="openai", model="gpt-image-1-mini", style="none",
        demo=True, shared=True)
    add(engine, "i4", "bob", created=datetime(2026, 10, 31, 23, 59, 59))
    add(engine, "i5", "bob", created=datetime(2026, 11, 2, 0, 0, 0))
    g.set_favourite(engine.db, ADMIN, "i1", True, T0)
    g.set_favourite(engine.db, BOB, "i2", True, T0)  # bob's favourite is not the admin's

    def found(viewer: g.Viewer = ADMIN, **kw: Any) -> list[str]:
        return sorted(ids(engine, viewer, **kw))

    assert found(providers=("openai",)) == ["i1", "i3"]
    assert found(providers=("openai", "gemini")) == ["i1", "i2", "i3"]
    assert found(models=("gpt-image-1-mini",)) == ["i3"]
    assert found(styles=("cartoon",)) == ["i1"]
    assert found(styles=("none",)) == ["i2", "i3", "i4", "i5"]  # no style counts as "none"
    assert found(users=("bob",)) == ["i3", "i4", "i5"]
    assert found(date_from=date(2026, 11, 1), date_to=date(2026, 11, 1)) == ["i1", "i2", "i3"]
    assert found(date_to=date(2026, 10, 31)) == ["i4"]
    assert found(date_from=date(2026, 11, 2)) == ["i5"]
    assert found(favourites_only=True) == ["i1"]
    assert found(BOB, favourites_only=True) == ["i2"]
    assert found(shared_only=True) == ["i2", "i3"]
    assert found(BOB, mine_only=True) == ["i3", "i4", "i5"]
    assert found(include_demo=False) == ["i1", "i2", "i4", "i5"]
    assert found(BOB, providers=("openai",), include_demo=False) == []


def test_sorts_order_by_time_cost_duration_and_average_rating(engine: Engine) -> None:
    add(engine, "cheap", "alice", cost="0.001", duration=9000, created=T0)
    add(engine, "dear", "alice", cost="0.2", duration=100, created=T0 + timedelta(seconds=1))
    add(engine, "free", "alice", cost=None, duration=None, created=T0 + timedelta(seconds=2))
    add(engine, "mid", "alice", cost="0.05", duration=5000, created=T0 + timedelta(seconds=3))
    for user, image_id, stars in [("alice", "cheap", 5), ("bob", "cheap", 3), ("alice", "mid", 5),
                                  ("carol", "dear", 2)]:
        g.rate(engine.db, g.Viewer(user, "admin"), image_id, stars, T0)
    assert ids(engine, ADMIN) == ["mid", "free", "dear", "cheap"]
    assert ids(engine, ADMIN, sort="oldest") == ["cheap", "dear", "free", "mid"]
    assert ids(engine, ADMIN, sort="cost") == ["dear", "mid", "cheap", "free"]
    assert ids(engine, ADMIN, sort="duration") == ["cheap", "mid", "dear", "free"]
    assert ids(engine, ADMIN, sort="rating") == ["mid", "cheap", "dear", "free"]
    cards = {c.id: c for c in g.search(engine.db, ALICE, g.GalleryFilter(sort="rating")).rows}
    assert [(c.avg_rating, c.ratings, c.my_rating) for c in cards.values()] == [
        (5.0, 1, 5), (4.0, 2, 5), (2.0, 1, None), (None, 0, None)]
    assert cards["dear"].cost_usd == Decimal("0.2") and cards["dear"].batch_id == "batch-dear"


@pytest.mark.parametrize("sort", g.SORTS)
def test_pages_cover_every_match_once_and_a_page_past_the_end_is_the_last(
        engine: Engine, sort: str) -> None:
    empty = g.search(engine.db, ALICE, g.GalleryFilter(sort=sort, page=7))
    assert (empty.rows, empty.total, empty.page, empty.pages) == ([], 0, 0, 0)
    for i in range(10):  # equal times and costs: the id must break ties for stable pages
        add(engine, f"img{i:02d}", "alice", created=T0 + timedelta(seconds=i // 3))
    pages = [g.search(engine.db, ADMIN, g.GalleryFilter(sort=sort, page=p, per_page=3))
             for p in range(4)]
    assert [(p.total, p.pages, p.page, len(p.rows)) for p in pages] == [
        (10, 4, 0, 3), (10, 4, 1, 3), (10, 4, 2, 3), (10, 4, 3, 1)]
    seen = [c.id for p in pages for c in p.rows]
    assert sorted(seen) == [f"img{i:02d}" for i in range(10)]
    assert seen == ids(engine, ADMIN, sort=sort, per_page=10)
    past = g.search(engine.db, ADMIN, g.GalleryFilter(sort=sort, page=99, per_page=3))
    assert (past.page, [c.id for c in past.rows]) == (3, seen[9:])



def test_ratings_and_favourites_are_per_user_and_ratings_average(engine: Engine) -> None:
    add(engine, "x", "alice", shared=True)
    g.rate(engine.db, ALICE, "x", 2, T0)
    g.rate(engine.db, ALICE, "x", 4, T0 + timedelta(hours=1))  # replaces alice's rating
    g.rate(engine.db, BOB, "x", 5, T0)
    assert engine.db.fetchall("SELECT user_id, rating FROM image_ratings ORDER BY 1") == [
        ("alice", 4), ("bob", 5)]
    detail = g.get_image(engine.db, BOB, "x")
    assert detail is not None
    assert (detail.avg_rating, detail.ratings, detail.my_rating) == (4.5, 2, 5)
    assert detail.rating_counts == {4: 1, 5: 1}
    g.rate(engine.db, BOB, "x", None, T0)
    detail = g.get_image(engine.db, BOB, "x")
    assert detail is not None and (detail.avg_rating, detail.my_rating) == (4.0, None)
    g.set_favourite(engine.db, ALICE, "x", True, T0)
    g.set_favourite(engine.db, ALICE, "x", True, T0)  # idempotent
    assert engine.db.scalar("SELECT count(*) FROM favourites") == 1
    assert [c.favourite for c in g.search(engine.db, ALICE, g.GalleryFilter()).rows] == [True]
    assert [c.favourite for c in g.search(engine.db, BOB, g.GalleryFilter()).rows] == [False]
    g.set_favourite(engine.db, ALICE, "x", False, T0)
    assert ids(engine, ALICE, favourites_only=True) == []


@pytest.mark.parametrize("bad", [0, 6, -1, True, 3.5, "5"])
def test_a_rating_outside_one_to_five_is_refused(engine: Engine, bad: Any) -> None:
    add(engine, "x", "alice")
    with pytest.raises(ValueError, match="1 to 5"):
        g.rate(engine.db, ALICE, "x", bad, T0)
    assert engine.db.scalar("SELECT count(*) FROM image_ratings") == 0


def test_delete_removes_rows_ratings_favourites_and_every_object(engine: Engine) -> None:
    keys = add(engine, "gone", "alice", shared=True)
    kept = add(engine, "kept", "alice")
    with engine.db.write() as cur:  # as the pipeline leaves them
        cur.execute("UPDATE jobs SET images = 1")
    g.rate(engine.db, BOB, "gone", 3, T0)
    g.set_favourite(engine.db, BOB, "gone", True, T0)
    assert all(engine.storage.exists(k) for k in keys if k)
    assert g.delete_images(engine.db, engine.storage, ALICE, ["gone", "gone"]) == 1
    assert ids(engine, ADMIN) == ["kept"]
    assert engine.db.fetchone("SELECT (SELECT count(*) FROM image_ratings), "
                              "(SELECT count(*) FROM favourites)") == (0, 0)
    assert not any(engine.storage.exists(k) for k in keys if k)
    assert all(engine.storage.exists(k) for k in kept if k)
    assert engine.db.scalar("SELECT count(*) FROM jobs WHERE id = 'job-gone'") == 1  # costs
    assert engine.db.fetchall("SELECT id, images FROM jobs ORDER BY id") == [
        ("job-gone", 0), ("job-kept", 1)]  # the count analytics read follows the rows


def test_delete_never_removes_the_shared_demo_pool(engine: Engine) -> None:
    pool = ("demo/orig-00.png", None, "demo/thumb-00.webp")
    add(engine, "d1", "alice", demo=True, keys=pool)
    add(engine, "d2", "alice", demo=True, keys=pool)
    assert g.delete_images(engine.db, engine.storage, ADMIN, ["d1", "d2"]) == 2
    assert engine.storage.list_keys("demo/") == ["demo/orig-00.png", "demo/thumb-00.webp"]


def test_a_storage_failure_after_the_delete_leaves_orphans_not_dangling_rows(
        engine: Engine, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = add(engine, "x", "alice")

    def down(keys: Iterable[str]) -> None:
        raise StorageError("the store is down")

    monkeypatch.setattr(engine.storage, "delete", down)
    assert g.delete_images(engine.db, engine.storage, ALICE, ["x"]) == 1
    assert g.get_image(engine.db, ADMIN, "x") is None
    assert all(engine.storage.exists(k) for k in keys if k)
    assert "orphans" in caplog.text


def test_zip_holds_each_original_and_a_manifest_of_parameters(engine: Engine) -> None:
    add(engine, "z1", "alice", prompt="=HYPERLINK(\"http://evil\")", cost="0.039")
    add(engine, "z2", "alice", prompt="a calm lake, 'quoted', \"double\"", cost="0")
    engine.storage.delete([image_keys("job-z2", "z2")[0]])  # its original went missing
    data = gallery_zip.zip_images(engine.db, engine.storage, ALICE, ["z1", "z2", "z1"])
    zf = zipfile.ZipFile(io.BytesIO(data))
    day = f"{engine.db.scalar('SELECT created_at FROM images WHERE id = ?', ['z1']):%Y-%m-%d}"
    z1 = f"{day}_hyperlink-http-evil_z1.png"  # date, prompt words, id: no formula, no path
    assert zf.namelist() == [z1, "manifest.csv"]
    assert zf.read(z1) == engine.storage.get(image_keys("job-z1", "z1")[0])
    rows = list(csv.DictReader(io.StringIO(zf.read("manifest.csv").decode("utf-8-sig"))))
    assert [r["image_id"] for r in rows] == ["z1", "z2"]
    assert rows[0]["prompt"] == "'=HYPERLINK(\"http://evil\")"  # not a live formula
    assert (rows[0]["file"], rows[0]["cost_usd"], rows[0]["user_id"]) == (
        z1, "0.039", "alice")  # a plain decimal, trailing zeros trimmed
    assert rows[1]["cost_usd"] == "0"  # not "0E-8"
    assert rows[1]["prompt"] == "a calm lake, 'quoted', \"double\""
    assert (rows[1]["file"], rows[1]["note"]) == ("", "original missing from storage")


def test_the_zip_manifest_writes_a_zero_cost_as_a_number_not_0e_8(engine: Engine) -> None:
    add(engine, "z0", "alice", cost="0")
    data = gallery_zip.zip_images(engine.db, engine.storage, ALICE, ["z0"])
    manifest = zipfile.ZipFile(io.BytesIO(data)).read("manifest.csv").decode("utf-8-sig")
    [row] = list(csv.DictReader(io.StringIO(manifest)))
    assert "E" not in row["cost_usd"] and float(row["cost_usd"]) == 0


def test_zip_refuses_more_than_the_maximum_and_nothing(engine: Engine) -> None:
    for i in range(3):
        add(engine, f"z{i}", "alice")
    with pytest.raises(ValueError, match="at most 2|1 to 2"):
        gallery_zip.zip_images(engine.db, engine.storage, ALICE, ["z0", "z1", "z2"], max_images=2)
    with pytest.raises(ValueError, match="0 images"):
        gallery_zip.zip_images(engine.db, engine.storage, ALICE, [])
    assert len(zipfile.ZipFile(io.BytesIO(gallery_zip.zip_images(
        engine.db, engine.storage, ALICE, ["z0", "z1"], max_images=2))).namelist()) == 3



def test_a_real_sandbox_image_shows_every_parameter_and_can_be_made_again(
        engine: Engine) -> None:
    wm = imaging.WatermarkSpec(text="ACME", logo=None, position="center")
    job_id = jobs.submit(engine, "alice", jobs.JobSpec(
        prompt="a lighthouse at dusk", width=128, height=96, seed=42, n=2, style="cartoon",
        quality="draft", negative_prompt="blurry", watermark=wm))
    assert run_next(engine) == jobs.SUCCEEDED
    page = g.search(engine.db, ALICE, g.GalleryFilter(text="lighthouse"))
    assert page.total == 2 and {c.job_id for c in page.rows} == {job_id}
    card = page.rows[0]
    assert card.watermarked_key and engine.storage.exists(card.thumb_key)
    detail = g.get_image(engine.db, ALICE, card.id)
    assert detail is not None and detail.job is not None
    job = detail.job
    assert (detail.negative_prompt, detail.seed in (42, 43), detail.quality) == (
        "blurry", True, "draft")
    assert (job["status"], job["attempts"], job["usage"], job["cost_usd"]) == (
        "succeeded", 1, {"images": 2.0}, 0)
    assert job["params"]["styled_prompt"].startswith("a lighthouse at dusk, cartoon")
    assert (job["watermark"]["text"], job["watermark"]["has_logo"]) == ("ACME", False)
    assert job["finished_at"] is not None and detail.created_at is not None
    settings = g.reuse_settings(detail)
    assert settings == {
        "provider": "sandbox", "model": "sandbox-v1", "prompt": "a lighthouse at dusk",
        "negative_prompt": "blurry", "style": "cartoon", "width": 128, "height": 96,
        "aspect_ratio": None, "quality": "draft", "seed": detail.seed, "n": 2}
    again = jobs.submit(engine, "alice", jobs.JobSpec(**settings))
    assert run_next(engine) == jobs.SUCCEEDED and again != job_id
    assert g.search(engine.db, ALICE, g.GalleryFilter()).total == 4


def test_reuse_of_a_ratio_job_asks_for_the_ratio_not_pixels(engine: Engine) -> None:
    add(engine, "r", "alice")
    with engine.db.write() as cur:
        cur.execute("UPDATE jobs SET width = NULL, height = NULL, aspect_ratio = '16:9', n = 3")
    settings = g.reuse_settings(g.get_image(engine.db, ALICE, "r"))  # type: ignore[arg-type]
    assert [settings[k] for k in ("width", "height", "aspect_ratio", "n")] == [
        None, None, "16:9", 3]
