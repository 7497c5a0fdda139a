"""Hostile input in every field: a clear refusal or a safe display, never a crash or live markup.

Two halves. Library level: property-based tests (hypothesis) drive ``jobs.submit`` and the
admin functions with arbitrary text and numbers. Page level: AppTest types hostile text into
the Generate form and reads every Markdown-rendering element the pages then draw (job card,
History, Queue, Gallery tile and detail, Home) through a real CommonMark parser.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as s

from lib import auth, budgets, jobs, pricing, styles, ui
from lib.engine import Engine
from lib.mdtext import plain
from lib.ui import grid
from tests.helpers import app_as, ensure_user, grid_tiles, run_next
from tests.reliability._hostile_helpers import (
    HOSTILE_TEXTS,
    MARKER,
    PROFILE,
    SOAK,
    finish_all,
    markup_around,
    render,
    unsafe_markup,
)

settings.load_profile(PROFILE)
NO_FIXTURE_CHECK = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
ANY_TEXT = s.text(s.characters(codec=None, exclude_categories=()), max_size=300)  # surrogates too
WORDS = s.text(max_size=200) | s.sampled_from(list(HOSTILE_TEXTS.values()))


@pytest.fixture
def engine() -> Iterator[Engine]:
    eng = Engine()
    yield eng
    eng.close()


# --------------------------------------------------------------------------- display helper


def _visible(markup: str) -> tuple[str, set[str]]:
    """The text a browser shows for this HTML, and the tags it uses."""
    from html.parser import HTMLParser

    class Collect(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.text, self.tags = [], set()

        def handle_starttag(self, tag: str, attrs: Any) -> None:
            self.tags.add(tag)
            if tag == "br":
                self.text.append("\n")

        def handle_data(self, data: str) -> None:
            self.text.append(data)

    c = Collect()
    c.feed(markup)
    return "".join(c.text).replace("\n\n", "\n").strip("\n"), c.tags


# What plain() drops on purpose: controls (not tab/newlines) and explicit direction controls.
DROPPED = set(map(chr, [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0),
                        *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x061C]))
ISOLATE = str.maketrans("", "", "\u2068\u2069")


@given(text=s.text(s.characters(exclude_categories=("Cs",)), max_size=400)
       | s.sampled_from(list(HOSTILE_TEXTS.values())))
def test_plain_text_renders_as_exactly_the_characters_typed(text: str) -> None:
    shown, tags = _visible(render(plain(text)))
    assert tags <= {"p"}  # no heading, link, image, code, emphasis, list or raw HTML
    assert shown.translate(ISOLATE) == " ".join("".join(c for c in text if c not in DROPPED)
                                                .split())


@given(text=s.text(s.characters(exclude_categories=("Cs",)), max_size=400))
def test_plain_multiline_text_keeps_its_lines_and_nothing_else(text: str) -> None:
    shown, tags = _visible(render(plain(text, one_line=False)))
    assert tags <= {"p", "br"}
    assert html.unescape(shown).count(MARKER) == text.count(MARKER)


@pytest.mark.parametrize("name", sorted(HOSTILE_TEXTS))
def test_plain_makes_each_hostile_sample_inert(name: str) -> None:
    raw = HOSTILE_TEXTS[name]
    assert not markup_around(plain(raw)) and not markup_around(plain(raw, one_line=False))
    if name in ("html", "md_links", "md_blocks", "streamlit"):
        assert markup_around(raw), "the sample itself must be live markup, or this proves nothing"


# --------------------------------------------------------------------------- jobs.submit


@NO_FIXTURE_CHECK
@given(prompt=ANY_TEXT | s.sampled_from(list(HOSTILE_TEXTS.values())),
       negative=s.none() | ANY_TEXT, quality=s.none() | WORDS, style=s.none() | WORDS,
       aspect=s.none() | WORDS,
       seed=s.none() | s.integers()
       | s.sampled_from([0, 2**31 - 1, 2**32 - 1, 2**32, 2**63 - 1, -1]),
       n=s.integers(-3, 12) | s.sampled_from([10**9, -(2**63)]),
       side=s.none() | s.integers(-5, 300) | s.sampled_from([64, 8192, 8193, 10**12]))
def test_any_spec_is_queued_or_refused_with_a_message(
    engine: Engine, prompt: str, negative: str | None, quality: str | None, style: str | None,
    aspect: str | None, seed: int | None, n: int, side: int | None,
) -> None:
    spec = jobs.JobSpec(prompt=prompt, negative_prompt=negative, quality=quality, style=style,
                        aspect_ratio=aspect, seed=seed, n=n, width=side, height=side and 64)
    try:
        job_id = jobs.submit(engine, "ann", spec)
    except jobs.SubmitError as exc:
        assert str(exc).strip() and "Traceback" not in str(exc)
        assert "disk space" not in str(exc)  # a refusal of the input, not a database failure
        return
    while jobs.get(engine, job_id).status in jobs.ACTIVE:  # type: ignore[union-attr]
        assert run_next(engine) is not None, "an active job no worker can claim"
    job = jobs.get(engine, job_id)
    assert job is not None and job.status in (jobs.SUCCEEDED, jobs.FAILED)
    assert job.status == jobs.SUCCEEDED or job.error_message
    assert not engine.internal_errors


@pytest.mark.parametrize(("field", "value", "says"), [
    ("prompt", "a fox \ud800 in snow", "U+D800"),
    ("prompt", "a fox\x00 in snow", "U+0000"),
    ("negative_prompt", "blurry\x1b[31m", "U+001B"),
    ("negative_prompt", "n" * 100_000, "negative prompt has 100,000 characters"),
    ("seed", 2**70, "seed must be between 0"),
    ("seed", 2**63 - 1, "seed must be between 0"),  # image i gets seed + i: BIGINT overflow
    ("seed", -1, "seed must be between 0"),
    ("seed", 1.5, "seed must be a whole number"),
    ("n", "3", "number of images must be a whole number"),
    ("width", "512", "width must be a whole number"),
    ("n", True, "number of images must be a whole number"),
    ("params", {"steps": object()}, "extra parameters"),
    ("params", {"cfg": float("nan")}, "extra parameters"),
], ids=lambda v: repr(v)[:30] if not isinstance(v, str) or len(v) < 40 else f"{len(v)} chars")
def test_bad_field_values_are_refused_before_anything_is_stored(
    engine: Engine, field: str, value: object, says: str
) -> None:
    fields: dict[str, Any] = {"prompt": "a fox", "width": 64, "height": 64, field: value}
    spec = jobs.JobSpec(**fields)
    with pytest.raises(jobs.SubmitError, match=re.escape(says)):
        jobs.submit(engine, "ann", spec)
    assert engine.db.scalar("SELECT count(*) FROM jobs") == 0


@pytest.mark.parametrize("prompt", ["", "   ", "\n\t \u3000", "a" * 100_000],
                         ids=["empty", "spaces", "whitespace", "100k"])
def test_empty_whitespace_and_huge_prompts_get_a_clear_refusal(engine: Engine,
                                                               prompt: str) -> None:
    with pytest.raises(jobs.SubmitError, match="empty|Shorten it"):
        jobs.submit(engine, "ann", jobs.JobSpec(prompt=prompt))


# --------------------------------------------------------------------------- admin fields


@NO_FIXTURE_CHECK
@given(username=ANY_TEXT, name=ANY_TEXT, email=s.none() | ANY_TEXT)
def test_any_account_fields_are_created_or_refused_with_a_message(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, username: str, name: str,
    email: str | None,
) -> None:
    monkeypatch.setattr(auth, "BCRYPT_ROUNDS", 4)
    try:
        user = auth.create_user(engine.db, username, name, email, "member",
                                "correct horse battery", now=engine.clock.now())
    except auth.AuthError as exc:
        assert str(exc).strip()
        return
    assert auth.get_user(engine.db, user.username) == user
    with engine.db.write() as cur:
        cur.execute("DELETE FROM users WHERE username = ?", [user.username])


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture],
          max_examples=40 if SOAK else 8)  # each attempt costs a real bcrypt check (cost 12)
@given(username=ANY_TEXT, password=ANY_TEXT)
def test_any_sign_in_attempt_is_a_yes_or_a_no(engine: Engine, username: str,
                                              password: str) -> None:
    assert auth.authenticate(engine.db, username, password, engine.clock.now()) is None


@NO_FIXTURE_CHECK
@given(label=ANY_TEXT | s.sampled_from(list(HOSTILE_TEXTS.values())),
       template=ANY_TEXT.map(lambda t: t + " {prompt}"), negative=ANY_TEXT)
def test_any_style_is_proposed_or_refused_with_a_message(
    engine: Engine, label: str, template: str, negative: str
) -> None:
    member = auth.User("ann", "Ann", None, "member", False, datetime(2026, 1, 1))
    try:
        style = styles.propose(engine.db, member, label, template, negative, None,
                               engine.clock.now())
    except styles.StyleError as exc:
        assert str(exc).strip()
        return
    assert styles.find(engine.db, style.id) is not None


AMOUNTS = (s.decimals(allow_nan=True, allow_infinity=True)
           | s.sampled_from([Decimal("1e30"), Decimal("-0.01"), Decimal("NaN"), Decimal("1e-12")]))


@NO_FIXTURE_CHECK
@given(amount=AMOUNTS)
def test_any_budget_amount_is_kept_or_refused_with_a_message(engine: Engine,
                                                             amount: Decimal) -> None:
    try:
        budgets.set_budget(engine.db, "team", "team", amount, "root", engine.clock.now())
    except ValueError as exc:
        assert "budget" in str(exc)
        return
    assert engine.db.scalar("SELECT count(*) FROM budgets") == 1


@NO_FIXTURE_CHECK
@given(amount=AMOUNTS, model=WORDS.filter(str.strip))
def test_any_price_is_added_or_refused_with_a_message(engine: Engine, amount: Decimal,
                                                      model: str) -> None:
    try:
        pricing.add_price(engine.db, "root", "sandbox", model, "*", "images", amount,
                          date(2026, 1, 1), "a test", engine.clock.now())
    except ValueError as exc:
        assert str(exc).strip()
        return


# --------------------------------------------------------------------------- pages


@pytest.mark.usefixtures("app_test_seam")
def test_the_generate_page_shows_hostile_prompts_as_typed() -> None:
    at = app_as("ann", "member", page="pages/generate.py")
    for text in HOSTILE_TEXTS.values():
        at.text_area(key="gen_prompt").input(text)
        at.button(key="gen_submit").click().run()
        assert not at.exception and not at.error, text
    finish_all(ui.engine())
    at.run()
    assert not at.exception
    cards = [m.value for m in at.markdown if MARKER in m.value]
    assert len(cards) == len(HOSTILE_TEXTS), "a job card is missing"
    assert unsafe_markup(at) == []


@pytest.mark.usefixtures("app_test_seam")
@pytest.mark.parametrize(("prompt", "says"), [
    ("", "The prompt is empty"), (" \n\t ", "The prompt is empty"), ("a fox\x00", "U+0000"),
], ids=["empty", "whitespace", "nul"])  # (longer than max_chars: the widget itself ignores it)
def test_the_generate_page_refuses_bad_prompts_with_a_message(prompt: str, says: str) -> None:
    at = app_as("ann", "member", page="pages/generate.py")
    at.text_area(key="gen_prompt").input(prompt)
    at.button(key="gen_submit").click().run()
    assert not at.exception
    assert [e.value for e in at.error if says in e.value.replace("\\", "")]
    assert ui.engine().db.scalar("SELECT count(*) FROM jobs") == 0


@pytest.mark.usefixtures("app_test_seam")
def test_history_queue_gallery_and_home_show_hostile_text_as_typed() -> None:
    eng = ui.engine()
    ensure_user("ann", "member")
    with eng.db.write() as cur:  # a hostile display name too (an admin typed it)
        cur.execute("UPDATE users SET name = ? WHERE username = 'ann'",
                    [HOSTILE_TEXTS["streamlit"]])
    ids = [jobs.submit(eng, "ann", jobs.JobSpec(prompt=t, width=64, height=64))
           for t in HOSTILE_TEXTS.values()]
    at = app_as("ann", "member", page="pages/history.py")
    assert sum(MARKER in m.value for m in at.markdown) == len(ids)
    finish_all(eng)
    for page in ("pages/history.py", "pages/queue.py", "pages/gallery.py", "pages/home.py"):
        at.switch_page(page).run()
        assert not at.exception, page
        assert unsafe_markup(at) == [], page
    # The thumbnail grid is one custom component: its prompts travel as data, exactly as
    # typed, and its script only ever sets them as text (textContent, alt, title).
    at.switch_page("pages/gallery.py").run()
    assert {t["prompt"] for t in grid_tiles(at)} == set(HOSTILE_TEXTS.values())
    assert "innerHTML" not in grid._JS and "insertAdjacentHTML" not in grid._JS
    image = str(eng.db.scalar("SELECT id FROM images WHERE job_id = ?", [ids[0]]))
    at.switch_page("pages/gallery.py")
    at.query_params["image"] = image
    at.run()
    assert not at.exception and unsafe_markup(at) == []
    assert any(m.value.startswith("**Prompt:**") for m in at.markdown)
