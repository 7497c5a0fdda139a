"""The quality-per-dollar leaderboard against hand-computed fixtures.

The fixture (images inserted directly, November 2026 unless said; ratings by user: stars):

    image  owner  provider/model       style    cost   ms    shared  ratings
    a1     alice  openai/gpt-image-2   photo    0.04   1000  yes     bob 5, carol 4
    a2     alice  openai/gpt-image-2   photo    0.04   3000  no      alice 3
    a3     alice  openai/gpt-image-2   -        0.08   2000  no      -
    b1     bob    gemini/flash         cartoon  0.039   500  yes     five users 2, 2, 3, 3, 5
    b2     bob    gemini/flash         cartoon  1.00   1500  no      bob 1
    s1     carol  sandbox/sandbox-v1   -        0       100  yes     alice 4
    u1     carol  stability/core       -        NULL   2000  yes     bob 5       (no price)
    o1     alice  openai/gpt-image-2   photo    0.50   9000  yes     bob 1       (October 20)

Roles: alice and bob are members, carol an admin. By model, for an admin, November:
openai: 3 images, 2 rated, 3 ratings, mean 4.0, cost (0.04 + 0.04 + 0.08) / 3 = 0.05333,
median 2000 ms, 4.0 / 0.05333 = 75.0 stars per dollar, thin (3 < 5). gemini: 2 images,
6 ratings, mean 16 / 6 = 2.667, cost 0.5195, 5.133 per dollar, not thin. sandbox: free, so
undefined. stability: cost unknown, so undefined; these two follow, by mean rating.
Alice (a member) sees her own and shared images only: gemini is b1 alone (3.0 / 0.039).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest

from lib.db.database import Database
from lib.gallery.queries import Viewer
from lib.reporting import leaderboard as lb

NOV = lb.BoardFilter(date(2026, 11, 1), date(2026, 11, 30))
ADMIN, ANALYST = Viewer("carol", "admin"), Viewer("dan", "analyst")
ALICE, BOB = Viewer("alice", "member"), Viewer("bob", "member")
IMAGES = [  # id, owner, provider, model, style, cost, ms, shared, day, {rater: stars}
    ("a1", "alice", "openai", "gpt-image-2", "photo", "0.04", 1000, True, 2,
     {"bob": 5, "carol": 4}),
    ("a2", "alice", "openai", "gpt-image-2", "photo", "0.04", 3000, False, 3, {"alice": 3}),
    ("a3", "alice", "openai", "gpt-image-2", None, "0.08", 2000, False, 4, {}),
    ("b1", "bob", "gemini", "flash", "cartoon", "0.039", 500, True, 5,
     {"u1": 2, "u2": 2, "u3": 3, "u4": 3, "u5": 5}),
    ("b2", "bob", "gemini", "flash", "cartoon", "1.00", 1500, False, 6, {"bob": 1}),
    ("s1", "carol", "sandbox", "sandbox-v1", None, "0", 100, True, 7, {"alice": 4}),
    ("u1", "carol", "stability", "core", None, None, 2000, True, 8, {"bob": 5}),
    ("o1", "alice", "openai", "gpt-image-2", "photo", "0.50", 9000, True, -12, {"bob": 1}),
]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    db = Database(tmp_path_factory.mktemp("board") / "board.duckdb")
    with db.write() as cur:
        for name, role in (("alice", "member"), ("bob", "member"), ("carol", "admin")):
            cur.execute("INSERT INTO users (username, name, role, created_at) VALUES (?,?,?,?)",
                        [name, name.title(), role, datetime(2026, 11, 1)])
    with db.write() as cur:
        for iid, owner, prov, model, style, cost, ms, shared, day, ratings in IMAGES:
            at = datetime(2026, 11, 1, 12) + timedelta(days=day - 1)
            cur.execute(
                "INSERT INTO images (id, job_id, idx, user_id, provider, model, prompt, style, "
                "width, height, original_key, thumb_key, bytes, cost_usd, duration_ms, shared, "
                "created_at) VALUES (?, ?, 0, ?, ?, ?, 'p', ?, 64, 64, 'o', 't', 1, ?, ?, ?, ?)",
                [iid, f"j-{iid}", owner, prov, model, style,
                 None if cost is None else Decimal(cost), ms, shared, at])
            for rater, stars in ratings.items():
                cur.execute("INSERT INTO image_ratings VALUES (?, ?, ?, ?)",
                            [iid, rater, stars, at])
    yield db
    db.close()


def _rows(df: pd.DataFrame, key: str = "model") -> dict[str, dict[str, object]]:
    return {str(r[key]): r for r in df.to_dict("records")}


def test_the_admin_board_by_model_matches_the_hand_computed_figures(db: Database) -> None:
    df = lb.board(db, ADMIN, NOV)
    assert list(df["model"]) == ["gpt-image-2", "flash", "core", "sandbox-v1"]
    rows = _rows(df)
    oa = rows["gpt-image-2"]
    assert (oa["images"], oa["images_rated"], oa["ratings"], oa["priced_images"]) == (3, 2, 3, 3)
    assert oa["avg_rating"] == pytest.approx(4.0)
    assert oa["cost_per_image_usd"] == pytest.approx(0.16 / 3)
    assert oa["median_ms"] == pytest.approx(2000)
    assert oa["rating_per_usd"] == pytest.approx(75.0)
    assert oa["thin"] and oa["note"] == "thin sample: 3 rating(s)"
    ge = rows["flash"]
    assert (ge["images"], ge["ratings"], ge["thin"], ge["note"]) == (2, 6, False, "")
    assert ge["avg_rating"] == pytest.approx(16 / 6)
    assert ge["cost_per_image_usd"] == pytest.approx(1.039 / 2)
    assert ge["rating_per_usd"] == pytest.approx((16 / 6) / (1.039 / 2))
    assert ge["median_ms"] == pytest.approx(1000)


def test_free_and_unpriced_models_have_no_rating_per_dollar_not_infinity(db: Database) -> None:
    rows = _rows(lb.board(db, ADMIN, NOV))
    free, unknown = rows["sandbox-v1"], rows["core"]
    assert free["cost_per_image_usd"] == 0
    assert unknown["priced_images"] == 0
    for row in (free, unknown):
        assert row["rating_per_usd"] is None or math.isnan(row["rating_per_usd"])
    assert "free: rating per dollar is undefined" in str(free["note"])
    assert "cost unknown" in str(unknown["note"])


def test_a_member_sees_only_own_and_shared_images_never_private_costs(db: Database) -> None:
    rows = _rows(lb.board(db, ALICE, NOV))
    ge = rows["flash"]  # b2 (bob's private $1.00 image, rated 1) is not in it
    assert (ge["images"], ge["ratings"]) == (1, 5)
    assert ge["cost_per_image_usd"] == pytest.approx(0.039)
    assert ge["rating_per_usd"] == pytest.approx(3.0 / 0.039)
    assert rows["gpt-image-2"]["images"] == 3  # her own private ones count for her
    bob = _rows(lb.board(db, BOB, NOV))["gpt-image-2"]  # only alice's shared a1
    assert (bob["images"], bob["ratings"], bob["rating_per_usd"]) == (1, 2, pytest.approx(112.5))


def test_an_analyst_sees_the_same_board_as_an_admin(db: Database) -> None:
    pd.testing.assert_frame_equal(lb.board(db, ANALYST, NOV), lb.board(db, ADMIN, NOV))


def test_by_style_counts_images_without_a_style_as_none(db: Database) -> None:
    rows = _rows(lb.board(db, ADMIN, lb.BoardFilter(NOV.start, NOV.end, by="style")), "style")
    assert set(rows) == {"photo", "cartoon", "none"}
    none = rows["none"]  # a3 0.08, s1 free, u1 unpriced: cost over the two priced ones
    assert (none["images"], none["priced_images"], none["ratings"]) == (3, 2, 2)
    assert none["cost_per_image_usd"] == pytest.approx(0.04)
    assert none["rating_per_usd"] == pytest.approx(4.5 / 0.04)
    assert rows["photo"]["rating_per_usd"] == pytest.approx(4.0 / 0.04)


@pytest.mark.parametrize(("changes", "expected"), [
    ({"roles": ("admin",)}, {"core": 1, "sandbox-v1": 1}),
    ({"users": ("bob",)}, {"flash": 2}),
    ({"providers": ("openai",)}, {"gpt-image-2": 3}),
    ({"start": date(2026, 10, 1), "end": date(2026, 10, 31)}, {"gpt-image-2": 1}),
    ({"start": date(2026, 11, 2), "end": date(2026, 11, 2)}, {"gpt-image-2": 1}),
])
def test_filters_narrow_the_images_counted(db: Database, changes: dict[str, object],
                                           expected: dict[str, int]) -> None:
    f = lb.BoardFilter(**{**NOV.__dict__, **changes})  # type: ignore[arg-type]
    got = {k: r["images"] for k, r in _rows(lb.board(db, ADMIN, f)).items()}
    assert got == expected


def test_an_empty_period_is_an_empty_board(db: Database) -> None:
    df = lb.board(db, ADMIN, lb.BoardFilter(date(2025, 1, 1), date(2025, 1, 31)))
    assert df.empty and {"rating_per_usd", "thin", "note"} <= set(df.columns)


@pytest.mark.parametrize(("kw", "message"), [
    ({"start": date(2026, 11, 2), "end": date(2026, 11, 1)}, "before the start"),
    ({"by": "colour"}, "Group by"),
    ({"roles": ("owner",)}, "Unknown role"),
])
def test_bad_filters_are_refused_with_a_message(kw: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        lb.BoardFilter(**{**NOV.__dict__, **kw})  # type: ignore[arg-type]
