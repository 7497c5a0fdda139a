"""The styles library: prompt templates the team shares; ``{prompt}`` is the user's prompt.

Styles live in the ``styles`` table. The six built-in templates (``BUILTIN``) are seeded as
rows by :func:`seed`; admins may edit them but never delete them, and "none" (the fallback that
sends prompts unchanged) stays as it is. A style's life::

    member/admin --propose--> proposed --admin approves--> active <--archive/restore--> archived
    admin --save (new)--> active                      proposed --admin archives--> archived
    admin --delete--> gone (not builtin)

Reads never fail on a database that was not seeded: a builtin missing from the table is served
from ``BUILTIN``, and an unknown id means "none" (old jobs keep working after a delete).

Errors: ``StyleError(ValueError)``, its message shown to a person as is.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lib.audit import Action, record
from lib.core.context import Services
from lib.core.errors import PromptboardError
from lib.core.text import bad_character
from lib.db.database import Cursor, Database
from lib.imaging import images as imaging
from lib.providers import registry, sandbox_art

if TYPE_CHECKING:
    from lib.auth.accounts import User

ACTIVE, PROPOSED, ARCHIVED = "active", "proposed", "archived"
STATUSES = (ACTIVE, PROPOSED, ARCHIVED)
MAX_LABEL = 60
MAX_TEMPLATE = 1000
MAX_NEGATIVE = 1000
SETTING_KEYS = ("provider", "model", "quality", "size")  # suggestions shown with the style
PREVIEW_PROMPT = "a lighthouse on a cliff at dusk"
PREVIEW_SEED = 20260101
PREVIEW_SIDE = 384
PREVIEW_VERSION = "1"  # bump when the preview drawing changes, to redraw every preview
SYSTEM_USER = "promptboard"
_SIZE_RE = re.compile(r"[1-9][0-9]{1,4}x[1-9][0-9]{1,4}")
_ID_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
_COLUMNS = ("id, label, template, negative, settings, status, builtin, preview_key, created_by, "
            "updated_by, updated_at")


class StyleError(PromptboardError, ValueError):
    """Input or an action a person can fix; the message is shown as is."""


@dataclass(frozen=True)
class Style:
    """A named prompt template with an optional negative prompt and suggested settings."""

    id: str
    label: str
    template: str
    negative: str = ""
    settings: dict[str, str] = field(default_factory=dict, hash=False)
    status: str = ACTIVE
    builtin: bool = False
    preview_key: str | None = None
    created_by: str = SYSTEM_USER
    updated_by: str = SYSTEM_USER
    updated_at: datetime | None = None

    def apply(self, prompt: str) -> str:
        """The prompt as sent to the provider."""
        return self.template.replace("{prompt}", prompt.strip())

    def preview_hash(self) -> str:
        """A short hash of what the preview shows; a new one means the preview is stale."""
        raw = "\x1f".join((PREVIEW_VERSION, self.id, self.template, self.negative))
        return hashlib.sha256(raw.encode()).hexdigest()[:12]

    def preview_key_for(self) -> str:
        """The storage key the current template's preview lives under."""
        return f"styles/{self.id}-{self.preview_hash()}.webp"

    def summary(self) -> str:
        """One line for people: what it avoids, what it suggests, who proposed it."""
        notes = [f"Avoid: {self.negative}"] if self.negative else []
        if self.settings:
            notes.append("Suggests " + ", ".join(f"{k} {v}" for k, v in self.settings.items()))
        if self.status == PROPOSED:
            notes.append(f"Proposed by {self.created_by}")
        return " · ".join(notes) or "No negative prompt or suggested settings."

    def moves(self) -> list[tuple[str, str]]:
        """(verb, new status) an admin may apply now; "none" stays active."""
        if self.id == "none":
            return []
        return {PROPOSED: [("Approve", ACTIVE), ("Archive", ARCHIVED)],
                ACTIVE: [("Archive", ARCHIVED)], ARCHIVED: [("Restore", ACTIVE)]}[self.status]


def _builtin(sid: str, label: str, template: str, negative: str = "") -> Style:
    return Style(sid, label, template, negative, builtin=True)


BUILTIN: dict[str, Style] = {
    s.id: s
    for s in (
        _builtin("none", "None", "{prompt}"),
        _builtin(
            "realistic",
            "Realistic",
            "{prompt}, realistic, natural lighting, highly detailed, true-to-life colours",
            "cartoon, illustration, distorted",
        ),
        _builtin(
            "photographic",
            "Photographic",
            "professional photograph of {prompt}, 35mm lens, shallow depth of field, sharp focus",
            "drawing, painting, illustration, blurry",
        ),
        _builtin(
            "artistic",
            "Artistic",
            "{prompt}, fine-art painting, expressive brushwork, rich colour palette",
            "photo, low quality",
        ),
        _builtin(
            "cartoon",
            "Cartoon",
            "{prompt}, cartoon style, bold clean outlines, flat vibrant colours",
            "photorealistic, gritty",
        ),
        _builtin(
            "abstract",
            "Abstract",
            "abstract composition inspired by {prompt}, geometric shapes, bold colour fields",
            "photo, realistic",
        ),
    )
}


# --------------------------------------------------------------------------- reads


def _from_row(row: tuple[Any, ...]) -> Style:
    sid, label, template, negative, settings, status, builtin, preview, cby, uby, uat = row
    try:
        parsed = json.loads(settings or "{}")
    except ValueError:
        parsed = {}
    clean = {k: str(v) for k, v in parsed.items() if k in SETTING_KEYS and v} if isinstance(
        parsed, dict) else {}
    return Style(sid, label, template, negative or "", clean, status, bool(builtin), preview,
                 cby, uby, uat)


def _row(db: Database | Cursor, style_id: str) -> Style | None:
    sql = f"SELECT {_COLUMNS} FROM styles WHERE id = ?"
    if isinstance(db, Database):
        found = db.fetchone(sql, [style_id])
    else:
        found = db.execute(sql, [style_id]).fetchone()
    return _from_row(found) if found else None


def get(style_id: str | None, db: Database | None = None) -> Style:
    """A style by id (any status); without a db only builtins; unknown or empty means "none"."""
    sid = style_id or "none"
    if sid != "none" and db is not None and (found := _row(db, sid)) is not None:
        return found
    return BUILTIN.get(sid, BUILTIN["none"])


def find(db: Database, style_id: str) -> Style | None:
    """A style by id, or None (builtins not yet seeded count as present)."""
    return _row(db, style_id) or BUILTIN.get(style_id)


def list_styles(db: Database, include_proposed: bool = False, *,
                include_archived: bool = False) -> list[Style]:
    """Active styles ("none" first, then by label), then proposed, then archived ones if asked."""
    wanted = {ACTIVE} | ({PROPOSED} if include_proposed else set()) | (
        {ARCHIVED} if include_archived else set())
    rows = {s.id: s for s in map(_from_row, db.fetchall(f"SELECT {_COLUMNS} FROM styles"))}
    merged = [*rows.values(), *(s for sid, s in BUILTIN.items() if sid not in rows)]
    return sorted((s for s in merged if s.status in wanted),
                  key=lambda s: (STATUSES.index(s.status), s.id != "none", s.label.lower()))


# --------------------------------------------------------------------------- validation


def _validate(label: str, template: str, negative: str,
              settings: dict[str, Any] | None) -> tuple[str, str, str, dict[str, str]]:
    """Cleaned (label, template, negative, settings), or StyleError saying what to fix."""
    label, template, negative = label.strip(), template.strip(), (negative or "").strip()
    if not label:
        raise StyleError("Give the style a name.")
    for what, text in (("style name", label), ("template", template), ("negative prompt",
                                                                      negative)):
        if why := bad_character(text):
            raise StyleError(f"The {what} {why}.")
    if len(label) > MAX_LABEL:
        raise StyleError(f"A style name can be at most {MAX_LABEL} characters.")
    if "{prompt}" not in template:
        raise StyleError("The template must contain {prompt}, where the user's prompt goes.")
    if len(template) > MAX_TEMPLATE:
        raise StyleError(f"A template can be at most {MAX_TEMPLATE} characters.")
    if len(negative) > MAX_NEGATIVE:
        raise StyleError(f"A negative prompt can be at most {MAX_NEGATIVE} characters.")
    clean: dict[str, str] = {}
    for key, value in (settings or {}).items():
        if key not in SETTING_KEYS:
            raise StyleError(f"Unknown setting {key!r}: use {', '.join(SETTING_KEYS)}.")
        text = str(value or "").strip()
        if len(text) > 100:
            raise StyleError(f"The suggested {key} is too long (at most 100 characters).")
        if text:
            clean[key] = text
    if "provider" in clean and clean["provider"] not in registry.PROVIDERS:
        known = ", ".join(sorted(registry.PROVIDERS))
        raise StyleError(f"Unknown provider {clean['provider']!r}: use one of {known}.")
    if "size" in clean and not _SIZE_RE.fullmatch(clean["size"]):
        raise StyleError("A suggested size looks like 1024x1024 (width x height in pixels).")
    return label, template, negative, clean


def slug(label: str) -> str:
    """A style id made from its label: lower case, a-z 0-9 and '-', at most 40 characters."""
    text = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")[:40].strip("-")
    return text or "style"


def _unique_id(cur: Cursor, label: str) -> str:
    base = slug(label)
    taken = {r[0] for r in cur.execute("SELECT id FROM styles WHERE id = ? OR id LIKE ?",
                                       [base, f"{base}-%"]).fetchall()} | set(BUILTIN)
    sid, n = base, 1
    while sid in taken:
        n += 1
        sid = f"{base[:36]}-{n}"
    return sid


def _require_admin(user: User, action: str) -> None:
    if user.role != "admin" or user.disabled:
        raise StyleError(f"Only admins can {action}.")


# --------------------------------------------------------------------------- writes


def _seed(cur: Cursor, now: datetime) -> None:
    for s in BUILTIN.values():
        cur.execute(
            "INSERT INTO styles (id, label, template, negative, settings, status, builtin, "
            "created_by, created_at, updated_by, updated_at) VALUES (?, ?, ?, ?, '{}', ?, true, "
            "?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
            [s.id, s.label, s.template, s.negative, ACTIVE, SYSTEM_USER, now, SYSTEM_USER, now])


def seed(db: Database, now: datetime) -> None:
    """Insert the built-in styles that are missing; edits and archives of them are kept."""
    with db.write() as cur:
        _seed(cur, now)


def _insert(cur: Cursor, style: Style, by: str, now: datetime) -> None:
    cur.execute(
        "INSERT INTO styles (id, label, template, negative, settings, status, builtin, "
        "created_by, created_at, updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, false, "
        "?, ?, ?, ?)",
        [style.id, style.label, style.template, style.negative, json.dumps(style.settings),
         style.status, by, now, by, now])


def propose(db: Database, user: User, label: str, template: str, negative: str,
            settings: dict[str, Any] | None, now: datetime) -> Style:
    """A member's or admin's suggestion, waiting for an admin to approve it."""
    if user.role not in ("admin", "member") or user.disabled:
        raise StyleError("Only members and admins can propose styles.")
    label, template, negative, clean = _validate(label, template, negative, settings)
    with db.write() as cur:
        _seed(cur, now)
        style = Style(_unique_id(cur, label), label, template, negative, clean, PROPOSED,
                      created_by=user.username, updated_by=user.username, updated_at=now)
        _insert(cur, style, user.username, now)
    return style


def save(db: Database, admin_user: User, style: Style, now: datetime) -> Style:
    """Create (empty or new id) or edit a style as an admin; returns it as stored."""
    _require_admin(admin_user, "add or edit styles")
    label, template, negative, clean = _validate(style.label, style.template, style.negative,
                                                 style.settings)
    if style.status not in STATUSES:
        raise StyleError(f"Unknown status {style.status!r}: use one of {', '.join(STATUSES)}.")
    by = admin_user.username
    with db.write() as cur:
        _seed(cur, now)
        old = _row(cur, style.id) if style.id else None
        if old is None:
            if style.id and not _ID_RE.fullmatch(style.id):
                raise StyleError("A style id is 1–40 characters: a–z, digits and '-'.")
            new = Style(style.id or _unique_id(cur, label), label, template, negative, clean,
                        style.status, created_by=by, updated_by=by, updated_at=now)
            _insert(cur, new, by, now)
            return new
        if old.id == "none":
            raise StyleError("The “None” style sends prompts unchanged; it can't be edited.")
        cur.execute("UPDATE styles SET label = ?, template = ?, negative = ?, settings = ?, "
                    "status = ?, updated_by = ?, updated_at = ? WHERE id = ?",
                    [label, template, negative, json.dumps(clean), style.status, by, now, old.id])
    return replace(old, label=label, template=template, negative=negative, settings=clean,
                   status=style.status, updated_by=by, updated_at=now)


def set_status(db: Database, admin: User, style_id: str, status: str, now: datetime) -> Style:
    """Approve a proposal or restore (active), or archive a style; admins only."""
    _require_admin(admin, "approve or archive styles")
    if status not in STATUSES:
        raise StyleError(f"Unknown status {status!r}: use one of {', '.join(STATUSES)}.")
    if style_id == "none" and status != ACTIVE:
        raise StyleError("The “None” style is the fallback for every prompt; it stays active.")
    with db.write() as cur:
        _seed(cur, now)
        old = _row(cur, style_id)
        if old is None:
            raise StyleError(f"There is no style {style_id!r}.")
        cur.execute("UPDATE styles SET status = ?, updated_by = ?, updated_at = ? WHERE id = ?",
                    [status, admin.username, now, style_id])
    return replace(old, status=status, updated_by=admin.username, updated_at=now)


def delete(engine: Services, admin: User, style_id: str) -> None:
    """Remove a style that is not built in, and its preview; builtins can only be archived."""
    _require_admin(admin, "delete styles")
    with engine.db.write() as cur:
        old = _row(cur, style_id) or BUILTIN.get(style_id)  # a builtin not yet seeded
        if old is None:
            raise StyleError(f"There is no style {style_id!r}.")
        if old.builtin:
            raise StyleError(f"“{old.label}” is built in: it can be edited or archived, "
                             "not deleted.")
        cur.execute("DELETE FROM styles WHERE id = ?", [style_id])
        record(cur, Action.STYLE_DELETE, style_id, {"label": old.label}, actor=admin.username)
    if old.preview_key:
        engine.storage.delete([old.preview_key])


def preview(engine: Services, style_id: str, now: datetime) -> str:
    """The storage key of the style's preview, drawn by the sandbox now if missing or stale."""
    style = find(engine.db, style_id)
    if style is None:
        raise StyleError(f"There is no style {style_id!r}.")
    key = style.preview_key_for()
    if style.preview_key == key and engine.storage.exists(key):
        return key
    kind = style.id if style.id in sandbox_art.STYLES else None  # others: picked from the hash
    img = sandbox_art.render(style.apply(PREVIEW_PROMPT), style.negative or None, PREVIEW_SEED,
                             PREVIEW_SIDE, PREVIEW_SIDE, kind, "standard")
    engine.storage.put(key, imaging.make_thumbnail(img, PREVIEW_SIDE), "image/webp")
    with engine.db.write() as cur:
        _seed(cur, now)
        cur.execute("UPDATE styles SET preview_key = ? WHERE id = ?", [key, style.id])
    if style.preview_key and style.preview_key != key:
        engine.storage.delete([style.preview_key])
    return key


def draw_missing_previews(engine: Services, now: datetime) -> int:
    """Draw every preview that is missing or stale (any status); returns how many were drawn."""
    stale = [s for s in list_styles(engine.db, True, include_archived=True)
             if s.preview_key != s.preview_key_for()]
    for style in stale:
        preview(engine, style.id, now)
    return len(stale)
