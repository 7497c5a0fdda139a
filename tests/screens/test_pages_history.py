"""History under AppTest: thumbnails of a job's images (aspect kept, none for a failed or
cancelled job), a batch under one heading, paging by group, an honest charge, a search hint."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from lib import jobs, ui
from lib.jobs import batches
from lib.ui import history as history_ui
from tests.helpers import app_as, ensure_user, wait_until

PAGE = "screens/history.py"


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("PROMPTBOARD_SANDBOX_LATENCY", "0.01")
    monkeypatch.setenv("PROMPTBOARD_WORKERS", "1")
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def _settled(ids: list[str]) -> None:
    wait_until(lambda: not any(j.status in jobs.ACTIVE for j in jobs.load(ui.engine(), ids)),
               what=f"jobs {ids} to finish")


def _spec(prompt: str, width: int = 64, height: int = 64, n: int = 1) -> jobs.JobSpec:
    return jobs.JobSpec(prompt=prompt, width=width, height=height, n=n)


def _images(at: AppTest) -> list[object]:
    return list(at.get("image"))


def test_a_finished_job_shows_its_thumbnails_and_a_failed_one_none() -> None:
    ensure_user("ann", "member")
    eng = ui.engine()
    tall = jobs.submit(eng, "ann", _spec("a tall lighthouse", 64, 128, n=2))
    failed = jobs.submit(eng, "ann", _spec("[[fail:safety]] refused"))
    _settled([tall, failed])
    at = app_as("ann", "member", page=PAGE)
    assert not at.exception
    imgs = _images(at)
    assert len(imgs) == 2  # the tall job's two images; the failed job has none


@pytest.mark.parametrize(("size", "width"), [
    ((64, 128), history_ui.THUMB_H // 2), ((1536, 1024), history_ui.THUMB_H * 3 // 2),
    ((512, 512), history_ui.THUMB_H), ((None, None), history_ui.THUMB_H),
    ((4000, 100), history_ui.THUMB_H * 3),  # a banner is capped, not a strip across the page
])
def test_a_thumbnail_is_drawn_at_one_height_with_the_width_its_image_has(
        size: tuple[int | None, int | None], width: int) -> None:
    assert history_ui.thumb_width({"width": size[0], "height": size[1]}) == width


def test_a_batch_is_one_heading_with_its_thumbnails_and_pages_count_groups(
        monkeypatch: pytest.MonkeyPatch) -> None:
    ensure_user("ann", "member")
    eng = ui.engine()
    ids = batches.submit_batch(eng, "ann", _spec("a batch of foxes"), 3)
    lone = jobs.submit(eng, "ann", _spec("a lone owl"))
    _settled([*ids, lone])
    at = app_as("ann", "member", page=PAGE)
    assert not at.exception
    headings = [m.value for m in at.markdown if "Batch of" in m.value]
    assert len(headings) == 1 and "a batch of foxes" in headings[0]
    assert len(_images(at)) == 4  # three from the batch, one from the owl
    assert "Page 1 of 1 · 2 in all" in [c.value for c in at.caption]  # groups, not jobs


def test_a_cancelled_job_shows_no_thumbnail_and_says_it_was_not_charged() -> None:
    ensure_user("ann", "member")
    eng = ui.engine()
    monkey = jobs.submit(eng, "ann", _spec("a cancelled heron"))
    jobs.cancel(eng, monkey, "ann")
    _settled([monkey])
    at = app_as("ann", "member", page=PAGE)
    assert not at.exception
    assert _images(at) == []
    captions = " ".join(c.value for c in at.caption)
    assert "$0.00 (not charged)" in captions and "cost unknown" not in captions


def test_the_search_box_hints_rather_than_looking_typed() -> None:
    at = app_as("ann", "member", page=PAGE)
    box = at.text_input(key="hist_text")
    assert box.value == "" and box.placeholder == "Search prompts…"
