"""A deleted image keeps its cost on its own ledger line; cost per image counts images made."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest

from lib import jobs
from lib.core import config
from lib.engine import Engine
from lib.gallery import queries as gallery
from lib.jobs import repricing as pricing
from lib.reporting import analytics, ledger
from tests.helpers import TickingClock, run_next

ADMIN = gallery.Viewer("root", "admin")


@pytest.fixture
def engine() -> Iterator[Engine]:
    eng = Engine(config.load(), clock=TickingClock())
    yield eng
    eng.close()


def _period(engine: Engine) -> analytics.Filters:
    today = engine.clock.now().date()
    return analytics.Filters(today - timedelta(days=1), today)


def test_deleting_one_of_two_images_keeps_its_cost_on_a_deleted_image_line(
    engine: Engine,
) -> None:
    job_id = jobs.submit(engine, "ann", jobs.JobSpec(prompt="pair", width=64, height=64, n=2))
    run_next(engine)
    jobs.submit(engine, "ann", jobs.JobSpec(prompt="single", width=64, height=64))
    run_next(engine)  # 3 images made in all
    first = engine.db.scalar("SELECT id FROM images WHERE job_id = ? ORDER BY idx", [job_id])
    assert gallery.delete_images(engine.db, engine.storage, gallery.Viewer("ann", "member"),
                                 [first]) == 1
    with engine.db.write() as cur:  # a price of $0.04 an image, from before these jobs
        cur.execute("UPDATE prices SET usd_per_unit = 0.04 WHERE provider = 'sandbox'")
    today = engine.clock.now().date()
    pricing.recompute(engine.db, "root", today - timedelta(days=1), today, engine.clock.now())
    # the pair cost $0.08: the image left carries $0.04 (not $0.08), the deleted one $0.04
    assert engine.db.scalar("SELECT cost_usd FROM images WHERE job_id = ?",
                            [job_id]) == Decimal("0.04")
    rows, total = ledger.ledger(engine.db, ADMIN, _period(engine), per_page=50)
    assert total == 3 and len(rows) == 3
    gone = rows[rows["note"].notna()]
    assert gone["note"].tolist() == ["1 deleted image"]
    assert gone["cost_usd"].tolist() == [pytest.approx(0.04)] and gone["job_id"].iloc[0] == job_id
    s = analytics.summary(engine.db, ADMIN, _period(engine)).current
    assert s.spend_usd == Decimal("0.12") and rows["cost_usd"].sum() == pytest.approx(0.12)
    assert (s.images, s.images_deleted) == (2, 1)
    assert s.cost_per_image_usd == Decimal("0.04")  # $0.12 / 3 made, not / 2 left


def test_deleting_every_image_of_a_job_leaves_one_line_with_the_whole_cost(
    engine: Engine,
) -> None:
    with engine.db.write() as cur:
        cur.execute("UPDATE prices SET usd_per_unit = 0.04 WHERE provider = 'sandbox'")
    job_id = jobs.submit(engine, "ann", jobs.JobSpec(prompt="pair", width=64, height=64, n=2))
    run_next(engine)
    ids = [r[0] for r in engine.db.fetchall("SELECT id FROM images WHERE job_id = ?", [job_id])]
    gallery.delete_images(engine.db, engine.storage, gallery.Viewer("ann", "member"), ids)
    rows, total = ledger.ledger(engine.db, ADMIN, _period(engine))
    assert total == 1
    assert (rows["note"].iloc[0], rows["cost_usd"].iloc[0]) == ("2 deleted images",
                                                                pytest.approx(0.08))
    s = analytics.summary(engine.db, ADMIN, _period(engine)).current
    assert (s.images, s.images_deleted, s.cost_per_image_usd) == (0, 2, Decimal("0.04"))
