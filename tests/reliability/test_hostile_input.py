"""Hostile input in every field: a clear refusal or a safe display, never a crash or live markup.

Two halves. Library level: property-based tests (hypothesis) drive ``jobs.submit`` and the
admin functions with arbitrary text and numbers. Page level: AppTest types hostile text into
the Generate form and reads every Markdown-rendering element the pages then draw (job card,
History, Queue, Gallery tile and detail, Home) through a real CommonMark parser.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as s

from lib import admin, jobs, ui
from lib.auth import accounts as auth
from lib.catalog import checks as model_checks
from lib.compare import grid as compare
from lib.compare import store as compare_store
from lib.core.text import plain
from lib.engine import Engine
from lib.gallery import queries as gallery
from lib.jobs import repricing as pricing
from lib.money import budgets
from lib.providers.discovery import Discovery
from lib.reporting import analytics
from lib.styles import library as styles
from lib.ui import charts, joblist
from lib.web import assets
from tests.helpers import app_as, ensure_user, grid_tiles, run_next
from tests.reliability import report
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
from tests.reliability._markup_helpers import (
    LINKS_AND_COLOURS,
    PAYLOADS,
    page_findings,
    plotly_leaks,
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


@pytest.mark.usefixtures("fast_bcrypt")
@NO_FIXTURE_CHECK
@given(username=ANY_TEXT, name=ANY_TEXT, email=s.none() | ANY_TEXT)
def test_any_account_fields_are_created_or_refused_with_a_message(
    engine: Engine, username: str, name: str, email: str | None,
) -> None:
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


@pytest.mark.usefixtures("page_engine")
def test_the_generate_page_shows_hostile_prompts_as_typed() -> None:
    at = app_as("ann", "member", page="screens/generate.py")
    for text in HOSTILE_TEXTS.values():
        at.text_area(key="gen_prompt").input(text)
        at.button(key="gen_submit").click().run()
        assert not at.exception and not at.error, text
    finish_all(ui.engine())
    at.run()
    assert not at.exception
    cards = [m.value for m in at.markdown if MARKER in m.value]
    shown = min(len(HOSTILE_TEXTS), joblist.CARDS)  # the rest are counted in an "N more" line
    assert len(cards) == shown, "a job card is missing"
    assert unsafe_markup(at) == []


@pytest.mark.usefixtures("page_engine")
@pytest.mark.parametrize(("prompt", "says"), [
    ("", "The prompt is empty"), (" \n\t ", "The prompt is empty"), ("a fox\x00", "U+0000"),
], ids=["empty", "whitespace", "nul"])  # (longer than max_chars: the widget itself ignores it)
def test_the_generate_page_refuses_bad_prompts_with_a_message(prompt: str, says: str) -> None:
    at = app_as("ann", "member", page="screens/generate.py")
    at.text_area(key="gen_prompt").input(prompt)
    at.button(key="gen_submit").click().run()
    assert not at.exception
    assert [e.value for e in at.error if says in e.value.replace("\\", "")]
    assert ui.engine().db.scalar("SELECT count(*) FROM jobs") == 0


@pytest.mark.usefixtures("page_engine")
def test_history_queue_gallery_and_home_show_hostile_text_as_typed() -> None:
    eng = ui.engine()
    ensure_user("ann", "member")
    with eng.db.write() as cur:  # a hostile display name too (an admin typed it)
        cur.execute("UPDATE users SET name = ? WHERE username = 'ann'",
                    [HOSTILE_TEXTS["streamlit"]])
    ids = [jobs.submit(eng, "ann", jobs.JobSpec(prompt=t, width=64, height=64))
           for t in HOSTILE_TEXTS.values()]
    at = app_as("ann", "member", page="screens/history.py")
    assert sum(MARKER in m.value for m in at.markdown) == len(ids)
    finish_all(eng)
    for page in ("screens/history.py", "screens/queue.py", "screens/gallery.py", "screens/home.py"):
        at.switch_page(page).run()
        assert not at.exception, page
        assert unsafe_markup(at) == [], page
    # The thumbnail grid is one custom component: its prompts travel as data, exactly as
    # typed, and its script only ever sets them as text (textContent, alt, title).
    at.switch_page("screens/gallery.py").run()
    assert {t["prompt"] for t in grid_tiles(at)} == set(HOSTILE_TEXTS.values())
    script = (assets.ROOT / "grid.js").read_text()
    assert "textContent" in script  # the rule below reads the script the browser runs
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script
    image = str(eng.db.scalar("SELECT id FROM images WHERE job_id = ?", [ids[0]]))
    at.switch_page("screens/gallery.py")
    at.query_params["image"] = image
    at.run()
    assert not at.exception and unsafe_markup(at) == []
    assert any(m.value.startswith("**Prompt:**") for m in at.markdown)


# --------------------------------------------------------------------------- markup: every page


def _seed_hostile(eng: Engine) -> dict[str, Any]:
    """Every field a person or a provider controls, each payload in each of them: one
    succeeded and one failed job per payload (an open-model provider's model id, prompt,
    negative prompt, quality, style, request id, batch id, error text), shared images, a
    style per payload, prices, a budget, comparisons, and hostile display names."""
    ensure_user("root", "admin")
    ensure_user("finn", "analyst")
    for user in ("ann", "__b__"):  # "__b__" is a valid username that Markdown would bolden
        ensure_user(user, "member")
    now = eng.clock.now()
    with eng.db.write() as cur:
        cur.execute("UPDATE users SET name = ? WHERE username = 'ann'", [PAYLOADS["pixel"]])
        cur.execute("UPDATE users SET name = ? WHERE username = '__b__'", [PAYLOADS["bold"]])
    made: dict[str, Any] = {"images": {}, "comparisons": []}
    for i, (name, text) in enumerate(PAYLOADS.items()):
        owner = ("ann", "__b__")[i % 2]
        ok = jobs.submit(eng, owner, jobs.JobSpec(prompt=text, width=64, height=64))
        bad = jobs.submit(eng, owner, jobs.JobSpec(prompt=text, width=64, height=64))
        finish_all(eng)
        with eng.db.write() as cur:
            for job_id in (ok, bad):
                cur.execute("UPDATE jobs SET provider = 'a1111', model = ?, negative_prompt = ?, "
                            "quality = ?, style = ?, request_id = ?, batch_id = ? WHERE id = ?",
                            [text, text, text, text, text, text, job_id])
            cur.execute("UPDATE jobs SET status = 'failed', error_type = 'bad_response', "
                        "error_message = ? WHERE id = ?", [text, bad])
            cur.execute("DELETE FROM images WHERE job_id = ?", [bad])
            cur.execute("UPDATE images SET provider = 'a1111', model = ?, negative_prompt = ?, "
                        "quality = ?, style = ?, request_id = ?, shared = true WHERE job_id = ?",
                        [text, text, text, text, text, ok])
            cur.execute(
                "INSERT INTO styles (id, label, template, negative, settings, status, builtin, "
                "created_by, created_at, updated_by, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, false, ?, ?, ?, ?)",
                [f"hostile-{i}", text, f"{text} {{prompt}}", text,
                 json.dumps({"model": text, "quality": text, "size": text}),
                 ("active", "proposed")[i % 2], owner, now, owner, now])
        made["images"][name] = str(eng.db.scalar("SELECT id FROM images WHERE job_id = ?", [ok]))
        pricing.add_price(eng.db, "root", "a1111", text.strip() or "x", "*", "images",
                          Decimal("0.01"), date(2026, 1, 1), text, now)
    budgets.set_budget(eng.db, "user", "__b__", Decimal(100), "root", now)
    texts = tuple(PAYLOADS.values())  # a provider's model list: new and vanished ids
    model_checks.record(eng, "gemini", Discovery("gemini", texts, new=texts, gone=texts[:3]))
    model_checks.record(eng, "fal", Discovery("fal", texts, gone=texts[3:5],  # a lookup's
                                              deprecated=texts, looked_up=texts))
    for name in ("pixel", "md_link", "streamlit"):
        text = PAYLOADS[name]
        columns = compare.columns_from_axes(
            [compare.Axis("model", (f"a1111/{text}", "sandbox/sandbox-v1"))])
        grid = compare.Grid(rows=(text, PAYLOADS["bold"]), seed=7, columns=columns)
        cid = compare_store.start(eng, gallery.Viewer("ann", "member"), grid, text, shared=True)
        made["comparisons"].append(cid)
    finish_all(eng)
    for status, owner, text in (("running", "ann", PAYLOADS["md_link"]),
                                ("queued", "__b__", PAYLOADS["colour"])):
        # A worker elsewhere reports progress in the provider's words; a retry waits a day.
        with eng.db.write() as cur:
            cur.execute(
                "INSERT INTO jobs (id, user_id, provider, model, prompt, width, height, n, "
                "status, attempts, next_run_at, progress, progress_note, error_message, "
                "worker_id, created_at, started_at, updated_at) "
                "VALUES (?, ?, 'a1111', ?, ?, 64, 64, 1, ?, 1, ?, 0.5, ?, ?, 'elsewhere', ?, ?, ?)",
                [f"hostile-{status}", owner, text, text, status, now + timedelta(days=1), text,
                 text if status == "queued" else None, now, now, now])
    return made


def _check(at: Any, where: str, seen: dict[str, list[Any]]) -> None:
    """Note what this run read and found, under its page's name."""
    assert not at.exception, (where, [e.value for e in at.exception])
    found, read = page_findings(at)
    page = seen.setdefault(where.split(" ")[0], [0, []])
    page[0] += read
    page[1] += [f"{where}: {f}" for f in found]


@pytest.mark.usefixtures("page_engine")
def test_every_page_shows_hostile_fields_as_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each role on each of its pages (and the dialogs, tabs and views behind them) with
    hostile text in every field: no link, image, colour or bold made of data, no live HTML
    in a chart, no formula in a table's CSV."""
    eng = ui.engine()
    made = _seed_hostile(eng)
    reply = " ".join(LINKS_AND_COLOURS.values())  # a provider's account name, say
    monkeypatch.setattr(admin, "test_provider", lambda provider_id, **_: (True, reply))
    seen: dict[str, list[Any]] = {}  # page: [strings read, findings]
    for user, role in (("root", "admin"), ("ann", "member"), ("finn", "analyst")):
        at = app_as(user, role)
        for page in auth.allowed_pages(role):
            at.switch_page(f"screens/{page}.py").run()
            _check(at, f"{page} as {role}", seen)
        at.switch_page("screens/analytics.py")
        for key, value in (("an_split", "model"), ("an_dur_by", "model")):
            at.session_state[key] = value
        at.run()
        _check(at, f"analytics as {role}, by model", seen)
        if role != "member":
            at.session_state["an_split"] = "user"
            at.run()
            _check(at, f"analytics as {role}, by user", seen)
        at.session_state["an_tab"] = "Quality per dollar"
        at.run()
        _check(at, f"analytics as {role}, quality", seen)
        visible = {n: i for n, i in made["images"].items()
                   if role != "member" or list(PAYLOADS).index(n) % 2 == 0}
        for image in visible.values():  # the detail dialog and its parameter table
            at.switch_page("screens/gallery.py")
            at.session_state["gal_open"] = image
            at.run()
            _check(at, f"gallery as {role}, image detail", seen)
            assert at.table, "the detail dialog did not open"
        at.session_state["gal_batch"] = PAYLOADS["pixel"]  # a forged batch id
        at.run()
        _check(at, f"gallery as {role}, forged batch", seen)
        at.session_state["gal_batch"] = ""
        if role == "analyst":
            continue
        for cid in made["comparisons"]:
            at.switch_page("screens/compare.py")
            at.query_params["id"] = cid
            at.run()
            _check(at, f"compare as {role}, a comparison", seen)
        at.query_params.clear()
        at.switch_page("screens/compare.py")  # the builder: hostile style names as columns
        at.session_state["cmp_prompts"] = "\n".join(LINKS_AND_COLOURS.values())
        at.session_state["cmp_styles"] = ["hostile-0", "hostile-2"]
        at.run()
        _check(at, f"compare as {role}, builder", seen)
        at.session_state["cmp_seeds"] = PAYLOADS["md_link"]  # refused, and quoted
        at.run()
        _check(at, f"compare as {role}, builder error", seen)
        assert at.error, "the seeds were not refused"
        at.switch_page("screens/styles.py")
        at.session_state["styles_flash"] = f"Proposed “{PAYLOADS['md_link']}”."
        at.run()
        _check(at, f"styles as {role}, proposal flash", seen)
    at = app_as("root", "admin", page="screens/admin.py")
    for tab in ("Users", "Budgets", "Prices", "Providers", "Models", "Storage", "Styles"):
        at.session_state["admin_tab"] = tab
        at.run()
        _check(at, f"admin tab {tab}", seen)
    at.session_state["admin_tab"] = "Providers"
    at.run()
    at.button(key="admin_test_sandbox").click().run()
    assert any(reply[:10] in m.value.replace("\\", "") for m in at.success), "no test reply"
    _check(at, "admin test connection", seen)
    for page, (read, found) in sorted(seen.items()):
        report.tally("markup", {"test": "test_every_page_shows_hostile_fields_as_text",
                                "page": page}, strings_read=read, findings=len(found))
    found = [f for _, page_found in seen.values() for f in page_found]
    if found:  # one line per view and element kind, then the first few in full
        kinds = sorted({": ".join(f.split(": ")[:2]) for f in found})
        pytest.fail("hostile text rendered live:\n" + "\n".join(kinds + found[:5]))


CHART_TEXT = (s.text(s.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
                     min_size=1, max_size=60)
              | s.sampled_from(list(PAYLOADS.values())))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture],
          max_examples=300 if SOAK else 15)
@given(models=s.lists(CHART_TEXT, min_size=1, max_size=3), users=s.lists(CHART_TEXT, min_size=1,
                                                                          max_size=3),
       error=CHART_TEXT)
def test_every_chart_escapes_the_data_it_shows(engine: Engine, models: list[str],
                                                users: list[str], error: str) -> None:
    """Model ids, user names and error types (any text) reach Plotly only HTML-escaped:
    trace names, category values, customdata and hover templates."""
    from tests.builders import ADMIN, add_job

    with engine.db.write() as cur:
        cur.execute("DELETE FROM images")
        cur.execute("DELETE FROM jobs")
    day = engine.clock.now().replace(tzinfo=None) - timedelta(days=1)
    for i, (model, user) in enumerate(zip(models, users * 3, strict=False)):
        add_job(engine.db, f"ok{i}", user, provider="a1111", model=model, created=day)
        add_job(engine.db, f"bad{i}", user, provider="replicate", model=model, created=day,
                status="failed", cost=None, error_type=error)
    f = analytics.Filters(day.date() - timedelta(days=3), day.date() + timedelta(days=1))
    figs = {
        "spend by model": charts.spend_by_day(analytics.spend_by_day(engine.db, ADMIN, f,
                                                                     "model"), "model"),
        "spend by user": charts.spend_by_day(analytics.spend_by_day(engine.db, ADMIN, f,
                                                                    "user"), "user"),
        "cost per image": charts.cost_per_image(
            analytics.cost_per_image_by_model(engine.db, ADMIN, f)),
        "durations": charts.durations(analytics.durations(engine.db, ADMIN, f, "model"),
                                      "model"),
        "failures": charts.failures(analytics.failures(engine.db, ADMIN, f)),
        "top users": charts.top_users(analytics.top_users(engine.db, ADMIN, f)),
    }
    leaks = {name: plotly_leaks(json.loads(fig.to_json())) for name, fig in figs.items()}
    report.tally("markup", {"test": "test_every_chart_escapes_the_data_it_shows",
                            "page": "analytics charts"}, examples=1, strings_read=len(figs),
                 findings=sum(map(len, leaks.values())))
    assert {name: found for name, found in leaks.items() if found} == {}
    shown = {str(y) for t in json.loads(figs["cost per image"].to_json())["data"]
             for y in t["y"]}
    assert shown == {charts._safe(m) for m in models}  # every model, as text


@pytest.mark.usefixtures("page_engine")
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture],
          max_examples=100 if SOAK else 6)  # each example is a page run
@given(text=CHART_TEXT)
def test_the_image_detail_shows_any_field_as_typed(text: str) -> None:
    """Any text in every field of an image (a model id, negative prompt, quality, style,
    request id, owner's name) comes out of the detail dialog's table as text."""
    eng = ui.engine()
    ensure_user("ann", "member")
    if not eng.db.scalar("SELECT count(*) FROM images"):
        jobs.submit(eng, "ann", jobs.JobSpec(prompt="a fox", width=64, height=64))
        finish_all(eng)
    with eng.db.write() as cur:
        cur.execute("UPDATE images SET model = ?, negative_prompt = ?, quality = ?, style = ?, "
                    "request_id = ?, prompt = ?", [text] * 6)
    image = str(eng.db.scalar("SELECT id FROM images"))
    at = app_as("ann", "member", page="screens/gallery.py")
    at.session_state["gal_open"] = image
    at.run()
    assert not at.exception and at.table
    found, read = page_findings(at)
    report.tally("markup", {"test": "test_the_image_detail_shows_any_field_as_typed",
                            "page": "gallery detail"}, examples=1, strings_read=read,
                 findings=len(found))
    assert found == []
    assert plain(text) in set(at.table[0].value["Value"])  # in full, escaped, not dropped
