"""The job lists under AppTest: Generate groups a batch and says what it did not show, the
Queue cancels a batch or everything (per role, after asking), History labels batches."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from lib import jobs, ui
from lib.jobs import batches
from lib.ui import joblist
from tests.helpers import app_as, ensure_user, wait_until


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("PROMPTBOARD_SANDBOX_LATENCY", "30")  # keep jobs queued/running
    monkeypatch.setenv("PROMPTBOARD_WORKERS", "1")
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def _texts(at: AppTest) -> str:
    return " ".join([m.value for m in at.markdown] + [c.value for c in at.caption]
                    + [p.proto.text for p in at.get("progress")])


def _keys(at: AppTest, prefix: str) -> list[str]:
    return [b.key for b in at.button if (b.key or "").startswith(prefix)]


def _batch(user: str, count: int, prompt: str = "a fox") -> tuple[str, list[str]]:
    ensure_user(user, "member")
    eng = ui.engine()
    ids = batches.submit_batch(eng, user, jobs.JobSpec(prompt=prompt, width=64, height=64),
                               count, batches.RANDOM)
    return str(jobs.get(eng, ids[0]).batch_id), ids  # type: ignore[union-attr]


def _job(user: str, prompt: str) -> str:
    ensure_user(user, "member")
    return jobs.submit(ui.engine(), user, jobs.JobSpec(prompt=prompt, width=64, height=64))


def _active(user: str) -> list[str]:
    return jobs.active_for_user(ui.engine(), user)


def _not_waiting(ids: list[str]) -> bool:
    """Every job cancelled, or running with the cooperative cancel flag set."""
    return all(j.status == jobs.CANCELLED or (j.status == jobs.RUNNING and j.cancel_requested)
               for j in jobs.load(ui.engine(), ids))


# --------------------------------------------------------------------------- Generate


def test_a_batch_of_14_shows_on_generate_as_one_card_with_its_count() -> None:
    at = app_as("ann", "member", page="screens/generate.py")
    at.text_area(key="gen_prompt").input("a red kite").run()
    at.number_input(key="gen_variations").set_value(14).run()
    at.button(key="gen_submit").click().run()
    assert not at.exception
    [batch_id] = {j.batch_id for j in jobs.load(ui.engine(), _active("ann"))}
    text = _texts(at)
    assert "Batch of 14" in text and "of 14 done" in text
    assert _keys(at, "jl-cancel-") == [f"jl-cancel-{batch_id}"]  # one card, not 14
    assert "more job" not in text  # nothing hidden
    assert "batch of 14" in at.toast[0].value


def test_generate_shows_a_few_cards_and_says_how_many_more_with_a_link() -> None:
    extra = 3
    for i in range(joblist.CARDS + extra):
        _job("ann", f"owl {i}")
    at = app_as("ann", "member", page="screens/generate.py")
    assert not at.exception
    assert len(_keys(at, "jl-cancel-")) == joblist.CARDS
    assert f"{extra} more jobs" in _texts(at)
    links = " ".join(link.proto.page for link in at.get("page_link"))
    assert "history" in links and "queue" in links  # the hidden ones are still active


def test_cancel_batch_on_generate_stops_every_job_of_the_batch() -> None:
    batch_id, ids = _batch("ann", 4)
    at = app_as("ann", "member", page="screens/generate.py")
    at.button(key=f"jl-cancel-{batch_id}").click().run()
    assert not at.exception
    assert _not_waiting(ids)


# --------------------------------------------------------------------------- Queue


def test_a_member_cancels_a_batch_of_their_own_but_not_anothers() -> None:
    mine, my_ids = _batch("ann", 3)
    theirs, their_ids = _batch("bob", 2, "bob's boat")
    at = app_as("ann", "member", page="screens/queue.py")
    assert not at.exception
    assert "Batch of 3" in _texts(at) and "Batch of 2" in _texts(at)
    assert _keys(at, "qbatch-") == [f"qbatch-{mine}"]
    at.button(key=f"qbatch-{mine}").click().run()
    assert not at.exception
    assert _not_waiting(my_ids)
    assert {j.status for j in jobs.load(ui.engine(), their_ids)} <= set(jobs.ACTIVE)
    assert not any(j.cancel_requested for j in jobs.load(ui.engine(), their_ids))


def test_a_member_cancel_all_asks_first_then_cancels_only_their_jobs() -> None:
    _, my_ids = _batch("ann", 2)
    mine = [*my_ids, _job("ann", "my owl")]
    theirs = _job("bob", "bob's boat")
    at = app_as("ann", "member", page="screens/queue.py")
    at.button(key="q-cancel-all").click().run()
    assert not at.exception
    assert not _not_waiting(mine)  # nothing happens before the confirmation
    at.button(key="q-cancel-all-yes").click().run()
    assert not at.exception
    assert _not_waiting(mine)
    assert not _not_waiting([theirs])


def test_an_admin_cancel_all_cancels_everyones_jobs_after_a_confirmation() -> None:
    ids = [*_batch("ann", 2)[1], _job("bob", "bob's boat")]
    at = app_as("root", "admin", page="screens/queue.py")
    assert "Cancel all jobs" in [b.label for b in at.button]
    at.button(key="q-cancel-all").click().run()
    assert not _not_waiting(ids)
    at.button(key="q-cancel-all-no").click().run()  # "keep them" changes nothing
    assert not _not_waiting(ids) and not _keys(at, "q-cancel-all-yes")
    at.button(key="q-cancel-all").click().run()
    at.button(key="q-cancel-all-yes").click().run()
    assert not at.exception
    assert _not_waiting(ids)


def test_an_analyst_sees_the_queue_but_cannot_cancel_anything() -> None:
    _batch("ann", 2)
    at = app_as("ana", "analyst", page="screens/queue.py")
    assert not at.exception
    assert "Batch of 2" in _texts(at)
    assert not [b for b in at.button if "cancel" in (b.key or "") or "batch" in (b.key or "")]


def test_a_running_job_on_the_queue_shows_progress_and_elapsed_time() -> None:
    _, ids = _batch("ann", 2)
    wait_until(lambda: any(j.status == jobs.RUNNING for j in jobs.load(ui.engine(), ids)),
               timeout=20, what="a job of the batch to start")
    at = app_as("ann", "member", page="screens/queue.py")
    [bar] = at.get("progress")
    assert "elapsed" in bar.proto.text


# --------------------------------------------------------------------------- History


def test_history_labels_batches_and_a_job_that_never_ran_costs_nothing() -> None:
    batch_id, ids = _batch("ann", 2, "a batch fox")
    jobs.cancel_many(ui.engine(), "ann", batch_id=batch_id)
    at = app_as("ann", "member", page="screens/history.py")
    assert not at.exception
    text = _texts(at)
    assert "Batch of 2" in text
    assert ui.money(Decimal(0)) in text and "cost unknown" not in text
    assert at.text_input(key="hist_text").placeholder == "Search prompts…"


def test_a_new_session_on_generate_still_lists_my_recently_finished_jobs() -> None:
    """A second tab or a reload knew only the active jobs: finished ones vanished."""
    done = _job("ann", "an owl cancelled a moment ago")
    jobs.cancel(ui.engine(), done, "ann")
    at = app_as("ann", "member", page="screens/generate.py")
    assert not at.exception
    assert "an owl cancelled a moment ago" in _texts(at)
    assert f"retry-{done}" in _keys(at, "retry-")
