"""The styles library: seeding, lookups, proposals, admin edits and on-demand previews."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from lib.core import config
from lib.core.clock import FakeClock
from lib.db.database import Database
from lib.engine import Engine
from lib.styles import library as styles
from lib.styles.library import Style, StyleError
from tests.builders import ADMIN_USER as ADMIN
from tests.builders import ANALYST_USER as ANALYST
from tests.builders import MEMBER_USER as MEMBER
from tests.builders import STYLES_NOW as NOW
from tests.builders import account as _user


@pytest.fixture
def engine() -> Iterator[Engine]:
    eng = Engine(config.load(), clock=FakeClock(NOW))
    yield eng
    eng.close()


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Spy on the sandbox renderer: the prompts it drew previews for."""
    calls: list[str] = []
    real = styles.sandbox_art.render

    def spy(prompt: str, *args: Any, **kw: Any) -> Image.Image:
        calls.append(prompt)
        return real(prompt, *args, **kw)

    monkeypatch.setattr(styles.sandbox_art, "render", spy)
    return calls


def _ids(found: list[Style]) -> list[str]:
    return [s.id for s in found]


# --------------------------------------------------------------------------- builtins, seed, get


def test_the_six_builtins_keep_their_ids_and_apply_as_before() -> None:
    assert list(styles.BUILTIN) == ["none", "realistic", "photographic", "artistic", "cartoon",
                                    "abstract"]
    assert styles.get("none").apply("  a cat ") == "a cat"
    assert styles.get("photographic").apply("a cat").startswith("professional photograph of a cat")
    assert all(s.builtin and s.status == "active" for s in styles.BUILTIN.values())


def test_seeding_twice_keeps_one_row_per_builtin_and_keeps_an_admins_edit(engine: Engine) -> None:
    styles.seed(engine.db, NOW)
    edited = styles.save(engine.db, ADMIN, Style("cartoon", "Comic", "{prompt}, comic book ink"),
                         NOW)
    styles.seed(engine.db, NOW)
    rows = engine.db.fetchall("SELECT id, builtin FROM styles ORDER BY id")
    assert rows == sorted((sid, True) for sid in styles.BUILTIN)
    assert styles.get("cartoon", engine.db).label == "Comic" == edited.label
    assert styles.get("cartoon", engine.db).builtin


@pytest.mark.parametrize("style_id", [None, "", "no-such-style"])
def test_unknown_or_empty_ids_fall_back_to_none_with_or_without_a_db(
    engine: Engine, style_id: str | None,
) -> None:
    assert styles.get(style_id).id == "none"
    assert styles.get(style_id, engine.db).id == "none"


def test_get_reads_the_database_and_falls_back_to_builtins_when_not_seeded(
    engine: Engine, tmp_path: Path,
) -> None:
    bare = Database(tmp_path / "bare.duckdb")  # migrated, styles never seeded
    try:
        assert styles.get("realistic", bare) == styles.BUILTIN["realistic"]
    finally:
        bare.close()
    assert styles.get("realistic", engine.db).template == styles.BUILTIN["realistic"].template
    made = styles.propose(engine.db, MEMBER, "Neon noir", "{prompt}, neon noir", "", None, NOW)
    found = styles.get(made.id, engine.db)
    assert found.template == "{prompt}, neon noir" and found.status == "proposed"
    assert styles.get(made.id).id == "none"  # without a db only builtins are known


def test_list_puts_none_first_then_active_by_label_and_hides_proposals_unless_asked(
    engine: Engine,
) -> None:
    styles.seed(engine.db, NOW)
    proposal = styles.propose(engine.db, MEMBER, "Aardvark", "{prompt} aardvark", "", None, NOW)
    active = styles.list_styles(engine.db)
    assert _ids(active) == ["none", "abstract", "artistic", "cartoon", "photographic",
                            "realistic"]
    with_proposals = styles.list_styles(engine.db, include_proposed=True)
    assert _ids(with_proposals)[-1] == proposal.id and len(with_proposals) == 7


# --------------------------------------------------------------------------- proposals, statuses


def test_a_members_proposal_gets_a_unique_slug_and_waits_for_approval(engine: Engine) -> None:
    first = styles.propose(engine.db, MEMBER, "Film Noir (1940s)!", "{prompt}, noir", "colour",
                           {"provider": "sandbox", "size": "1024x1024"}, NOW)
    second = styles.propose(engine.db, MEMBER, "film noir 1940s", "{prompt}, noir 2", "", {}, NOW)
    clash = styles.propose(engine.db, ADMIN, "Cartoon", "{prompt}, toon", "", {}, NOW)
    assert (first.id, second.id, clash.id) == ("film-noir-1940s", "film-noir-1940s-2", "cartoon-2")
    assert first.status == "proposed" and first.created_by == "ann"
    assert styles.get(first.id, engine.db).settings == {"provider": "sandbox",
                                                        "size": "1024x1024"}
    assert styles.get("cartoon", engine.db).template == styles.BUILTIN["cartoon"].template


def test_analysts_and_disabled_users_cannot_propose(engine: Engine) -> None:
    with pytest.raises(StyleError, match="members and admins"):
        styles.propose(engine.db, ANALYST, "Mine", "{prompt}", "", None, NOW)
    with pytest.raises(StyleError, match="members and admins"):
        styles.propose(engine.db, _user("zed", "member", True), "Mine", "{prompt}", "", None, NOW)


def test_an_admin_approves_then_archives_then_restores_a_proposal(engine: Engine) -> None:
    made = styles.propose(engine.db, MEMBER, "Ink", "{prompt}, ink wash", "", None, NOW)
    assert made.id not in _ids(styles.list_styles(engine.db))
    styles.set_status(engine.db, ADMIN, made.id, "active", NOW)
    assert made.id in _ids(styles.list_styles(engine.db))
    archived = styles.set_status(engine.db, ADMIN, made.id, "archived", NOW)
    assert archived.status == "archived" and archived.updated_by == "root"
    assert made.id not in _ids(styles.list_styles(engine.db, include_proposed=True))
    assert made.id in _ids(styles.list_styles(engine.db, include_archived=True))
    assert styles.get(made.id, engine.db).template == "{prompt}, ink wash"  # old jobs still apply
    styles.set_status(engine.db, ADMIN, made.id, "active", NOW)
    assert styles.get(made.id, engine.db).status == "active"


def test_only_admins_approve_and_none_stays_active(engine: Engine) -> None:
    made = styles.propose(engine.db, MEMBER, "Ink", "{prompt}, ink", "", None, NOW)
    with pytest.raises(StyleError, match="Only admins"):
        styles.set_status(engine.db, MEMBER, made.id, "active", NOW)
    with pytest.raises(StyleError, match="stays active"):
        styles.set_status(engine.db, ADMIN, "none", "archived", NOW)
    with pytest.raises(StyleError, match="no style 'ghost'"):
        styles.set_status(engine.db, ADMIN, "ghost", "active", NOW)
    with pytest.raises(StyleError, match="Unknown status"):
        styles.set_status(engine.db, ADMIN, made.id, "deleted", NOW)
    assert styles.get(made.id, engine.db).status == "proposed"


# --------------------------------------------------------------------------- admin edits


def test_an_admin_creates_an_active_style_and_edits_a_builtin(engine: Engine) -> None:
    made = styles.save(engine.db, ADMIN, Style("", "Pixel art", "{prompt}, 16-bit pixel art"),
                       NOW)
    assert made.id == "pixel-art" and made.status == "active"
    assert "pixel-art" in _ids(styles.list_styles(engine.db))
    new = Style("realistic", "Realistic", "{prompt}, ultra realistic", "blur",
                {"quality": "high"})
    styles.save(engine.db, ADMIN, new, NOW)
    stored = styles.get("realistic", engine.db)
    assert (stored.template, stored.negative, stored.settings) == (
        "{prompt}, ultra realistic", "blur", {"quality": "high"})
    assert stored.builtin and stored.updated_by == "root"


def test_members_cannot_save_and_none_cannot_be_edited(engine: Engine) -> None:
    with pytest.raises(StyleError, match="Only admins"):
        styles.save(engine.db, MEMBER, Style("", "Mine", "{prompt}"), NOW)
    with pytest.raises(StyleError, match="can't be edited"):
        styles.save(engine.db, ADMIN, Style("none", "None", "{prompt}, sneaky"), NOW)
    assert styles.get("none", engine.db).template == "{prompt}"


@pytest.mark.parametrize(("label", "template", "negative", "settings", "message"), [
    ("", "{prompt}", "", None, "Give the style a name"),
    ("x" * 61, "{prompt}", "", None, "at most 60 characters"),
    ("Ok", "a cat", "", None, "must contain {prompt}"),
    ("Ok", "{prompt}" + "y" * 1000, "", None, "at most 1000 characters"),
    ("Ok", "{prompt}", "n" * 1001, None, "negative prompt can be at most"),
    ("Ok", "{prompt}", "", {"provider": "midjourney"}, "Unknown provider 'midjourney'"),
    ("Ok", "{prompt}", "", {"size": "big"}, "looks like 1024x1024"),
    ("Ok", "{prompt}", "", {"colour": "red"}, "Unknown setting 'colour'"),
])
def test_bad_input_is_refused_with_a_message_that_says_what_to_fix(
    engine: Engine, label: str, template: str, negative: str,
    settings: dict[str, str] | None, message: str,
) -> None:
    with pytest.raises(StyleError, match=message.replace("{", r"\{").replace("}", r"\}")):
        styles.save(engine.db, ADMIN, Style("", label, template, negative, settings or {}), NOW)
    with pytest.raises(StyleError):
        styles.propose(engine.db, MEMBER, label, template, negative, settings, NOW)
    assert engine.db.scalar("SELECT count(*) FROM styles WHERE NOT builtin") == 0


def test_builtins_cannot_be_deleted_but_other_styles_can_with_their_preview(
    engine: Engine,
) -> None:
    with pytest.raises(StyleError, match="built in"):
        styles.delete(engine, ADMIN, "realistic")
    made = styles.propose(engine.db, MEMBER, "Gone soon", "{prompt}, soon", "", None, NOW)
    key = styles.preview(engine, made.id, NOW)
    with pytest.raises(StyleError, match="Only admins"):
        styles.delete(engine, MEMBER, made.id)
    styles.delete(engine, ADMIN, made.id)
    assert styles.find(engine.db, made.id) is None
    assert not engine.storage.exists(key)
    assert styles.find(engine.db, "realistic") is not None


# --------------------------------------------------------------------------- previews


def test_a_preview_is_drawn_once_as_webp_and_redrawn_after_a_template_edit(
    engine: Engine, renders: list[str],
) -> None:
    key = styles.preview(engine, "cartoon", NOW)
    assert key.startswith("styles/cartoon-") and key.endswith(".webp")
    data = engine.storage.get(key)
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "WEBP" and max(img.size) == styles.PREVIEW_SIDE
    assert styles.get("cartoon", engine.db).preview_key == key
    assert styles.preview(engine, "cartoon", NOW) == key
    assert len(renders) == 1  # the second call found it fresh
    assert renders[0] == styles.BUILTIN["cartoon"].apply(styles.PREVIEW_PROMPT)

    styles.save(engine.db, ADMIN, Style("cartoon", "Cartoon", "{prompt}, claymation"), NOW)
    new_key = styles.preview(engine, "cartoon", NOW)
    assert new_key != key and len(renders) == 2
    assert renders[1] == f"{styles.PREVIEW_PROMPT}, claymation"
    assert engine.storage.exists(new_key) and not engine.storage.exists(key)


def test_a_preview_whose_object_vanished_is_drawn_again(
    engine: Engine, renders: list[str],
) -> None:
    key = styles.preview(engine, "abstract", NOW)
    engine.storage.delete([key])
    assert styles.preview(engine, "abstract", NOW) == key
    assert engine.storage.exists(key) and len(renders) == 2


def test_drawing_missing_previews_covers_every_style_then_nothing(
    engine: Engine, renders: list[str],
) -> None:
    styles.propose(engine.db, MEMBER, "Ink", "{prompt}, ink", "", None, NOW)
    assert styles.draw_missing_previews(engine, NOW) == 7
    assert styles.draw_missing_previews(engine, NOW) == 0
    assert len(renders) == 7
    assert all(s.preview_key for s in styles.list_styles(engine.db, True, include_archived=True))


def test_previewing_an_unknown_style_says_so(engine: Engine) -> None:
    with pytest.raises(StyleError, match="no style 'ghost'"):
        styles.preview(engine, "ghost", NOW)
