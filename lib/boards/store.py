"""Boards' reads and writes: create, change, members, delete, images on and off, the summary.

Every verb checks the viewer's right first (:mod:`.rules`: "not found" for a board they
cannot view, :class:`~lib.boards.rules.BoardDenied` for a change above their right) and is
all or nothing. Management changes are in the audit log, in the same transaction. A board's
images are read through the gallery's own query and its visibility rule, so a board never
shows an image its viewer could not see in the gallery.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from lib.audit import Action, record
from lib.auth import accounts as auth
from lib.auth.access import Viewer
from lib.boards.rules import (
    ACCESS,
    MAX_DESCRIPTION,
    MAX_IMAGES,
    MAX_MEMBERS,
    RIGHTS,
    BoardDenied,
    BoardError,
    clean_name,
    clean_text,
    clean_visibility,
    missing,
    right_of,
    visible_sql,
)
from lib.db.database import Cursor, Database
from lib.gallery import downloads
from lib.gallery import queries as gallery
from lib.storage.base import Storage

ZIP_MAX = 200  # images one board download holds (the Gallery's bulk zip's limit)
_COLS = "b.id, b.name, b.description, b.owner, b.visibility, b.archived, b.created_at, " \
        "b.updated_at, m.access"


@dataclass(frozen=True)
class Board:
    """One board as its viewer sees it, with their right on it (view, edit or manage)."""

    id: str
    name: str
    description: str
    owner: str
    visibility: str
    archived: bool
    created_at: datetime
    updated_at: datetime
    right: str

    def may(self, right: str) -> bool:
        """At least ``right`` (view < edit < manage); an archived board takes no edits."""
        if right == "edit" and self.archived:
            return False
        return RIGHTS.index(self.right) >= RIGHTS.index(right)


@dataclass(frozen=True)
class Summary:
    """What a board holds, of the images its viewer can see."""

    images: int
    cost_usd: Decimal
    first: datetime | None
    last: datetime | None


def _rows(db: Database | Cursor, viewer: Viewer, where: str, params: list[Any]) -> list[Board]:
    vis, vparams = visible_sql(viewer)
    sql = (f"SELECT {_COLS} FROM boards b LEFT JOIN board_members m ON m.board_id = b.id AND "
           f"m.username = ? WHERE {vis} AND {where} ORDER BY b.updated_at DESC, b.id")
    args = [viewer.username, *vparams, *params]
    found = db.fetchall(sql, args) if isinstance(db, Database) else \
        db.execute(sql, args).fetchall()
    boards = []
    for r in found:
        right = right_of(viewer, str(r[3]), str(r[4]), r[8])
        if right is not None:
            boards.append(Board(str(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]),
                                bool(r[5]), r[6], r[7], right))
    return boards


def list_boards(db: Database, viewer: Viewer, *, archived: bool = False) -> list[Board]:
    """Boards the viewer may view, most recently changed first (archived ones, or not)."""
    return _rows(db, viewer, "b.archived = ?", [bool(archived)])


def get_board(db: Database | Cursor, viewer: Viewer, board_id: str) -> Board:
    """One board the viewer may view, else :class:`~lib.boards.rules.BoardMissing`."""
    found = _rows(db, viewer, "b.id = ?", [str(board_id)])
    if not found:
        raise missing(board_id)
    return found[0]


def _checked(cur: Cursor, viewer: Viewer, board_id: str, right: str) -> Board:
    auth.require_active(cur, viewer.username, viewer.role, error=BoardDenied)
    board = get_board(cur, viewer, board_id)
    if not board.may(right):
        if board.archived and right == "edit" and board.may("view"):
            raise BoardDenied(f"The board {board.name!r} is archived: unarchive it first.")
        says = {"edit": "its owner, an admin or an editor can change its images",
                "manage": "only its owner or an admin can change it"}[right]
        raise BoardDenied(f"You may look at the board {board.name!r}, but {says}.")
    return board


def create(db: Database, viewer: Viewer, name: object, *, description: object = "",
           visibility: object = "private", now: datetime) -> Board:
    """A new board owned by the viewer (members and admins; analysts only look)."""
    if viewer.role == "analyst":
        raise BoardDenied("Analysts look at boards; members and admins keep them.")
    board_id = uuid.uuid4().hex[:12]
    row: list[Any] = [board_id, clean_name(name),
           clean_text(description, "description", MAX_DESCRIPTION, lines=True),
           viewer.username, clean_visibility(visibility), now, now]
    with db.write() as cur:
        auth.require_active(cur, viewer.username, viewer.role, error=BoardDenied)
        cur.execute("INSERT INTO boards (id, name, description, owner, visibility, archived, "
                    "created_at, updated_at) VALUES (?, ?, ?, ?, ?, FALSE, ?, ?)", row)
        record(cur, Action.BOARD_CREATE, board_id, {"name": row[1], "visibility": row[4]})
        return get_board(cur, viewer, board_id)


def update(db: Database, viewer: Viewer, board_id: str, *, name: object = None,
           description: object = None, visibility: object = None, archived: bool | None = None,
           now: datetime) -> Board:
    """Rename, describe, change visibility, archive or unarchive (owner or admin)."""
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = clean_name(name)
    if description is not None:
        changes["description"] = clean_text(description, "description", MAX_DESCRIPTION,
                                            lines=True)
    if visibility is not None:
        changes["visibility"] = clean_visibility(visibility)
    if archived is not None:
        changes["archived"] = bool(archived)
    with db.write() as cur:
        _checked(cur, viewer, board_id, "manage")
        if changes:
            sets = ", ".join(f"{k} = ?" for k in changes)
            cur.execute(f"UPDATE boards SET {sets}, updated_at = ? WHERE id = ?",
                        [*changes.values(), now, board_id])
        for action, keys in ((Action.BOARD_EDIT, ("name", "description")),
                             (Action.BOARD_VISIBILITY, ("visibility",)),
                             (Action.BOARD_ARCHIVE, ("archived",))):
            if said := {k: changes[k] for k in keys if k in changes}:
                record(cur, action, board_id, said)
        return get_board(cur, viewer, board_id)


def members(db: Database, viewer: Viewer, board_id: str) -> dict[str, str]:
    """The named members and their access (viewer or editor), for anyone who may view."""
    get_board(db, viewer, board_id)
    rows = db.fetchall("SELECT username, access FROM board_members WHERE board_id = ? "
                       "ORDER BY username", [board_id])
    return {str(u): str(a) for u, a in rows}


def set_members(db: Database, viewer: Viewer, board_id: str, wanted: Mapping[str, str],
                now: datetime) -> dict[str, str]:
    """Make ``wanted`` (username -> viewer or editor) the board's members (owner or admin);
    every name must be an account."""
    if len(wanted) > MAX_MEMBERS:
        raise BoardError(f"A board has at most {MAX_MEMBERS} named members.")
    clean: dict[str, str] = {}
    for raw, access in wanted.items():
        if access not in ACCESS:
            raise BoardError(f"A member is a viewer or an editor, not {str(access)[:20]!r}.")
        clean[auth.normalize_username(str(raw))] = str(access)
    with db.write() as cur:
        board = _checked(cur, viewer, board_id, "manage")
        known = {str(r[0]) for r in cur.execute(
            "SELECT username FROM users WHERE username IN (SELECT unnest(?::VARCHAR[]))",
            [list(clean)]).fetchall()}
        unknown = sorted(set(clean) - known - {board.owner})
        if unknown:
            raise BoardError(f"No account is named {unknown[0][:40]!r}: nothing was changed.")
        clean.pop(board.owner, None)
        cur.execute("DELETE FROM board_members WHERE board_id = ?", [board_id])
        if clean:
            cur.executemany("INSERT INTO board_members (board_id, username, access) "
                            "VALUES (?, ?, ?)", [(board_id, u, a) for u, a in clean.items()])
        cur.execute("UPDATE boards SET updated_at = ? WHERE id = ?", [now, board_id])
        record(cur, Action.BOARD_VISIBILITY, board_id,
               {"members": ", ".join(f"{u}:{a}" for u, a in sorted(clean.items()))})
    return dict(sorted(clean.items()))


def delete(db: Database, viewer: Viewer, board_id: str) -> None:
    """Delete a board and its member and image rows (owner or admin); never an image."""
    with db.write() as cur:
        board = _checked(cur, viewer, board_id, "manage")
        for table in ("board_images", "board_members"):
            cur.execute(f"DELETE FROM {table} WHERE board_id = ?", [board_id])
        cur.execute("DELETE FROM boards WHERE id = ?", [board_id])
        record(cur, Action.BOARD_DELETE, board_id, {"name": board.name, "owner": board.owner})


def _ids(ids: Iterable[str]) -> list[str]:
    wanted = list(dict.fromkeys(str(i) for i in ids))
    if len(wanted) > MAX_IMAGES:
        raise BoardError(f"Add or remove at most {MAX_IMAGES:,} images at a time, "
                         f"not {len(wanted):,}.")
    return wanted


def add_images(db: Database, viewer: Viewer, board_id: str, ids: Iterable[str],
               now: datetime) -> int:
    """Put images the viewer can see on the board (owner, admin or editor); returns how many
    were not on it yet. One image not visible and nothing is added."""
    wanted = _ids(ids)
    if not wanted:
        return 0
    with db.write() as cur:
        _checked(cur, viewer, board_id, "edit")
        gallery.checked_rows(cur, viewer, wanted)
        held = {str(r[0]) for r in cur.execute(
            "SELECT image_id FROM board_images WHERE board_id = ? AND image_id IN "
            "(SELECT unnest(?::VARCHAR[]))", [board_id, wanted]).fetchall()}
        new = [(board_id, i, viewer.username, now) for i in wanted if i not in held]
        if new:
            cur.executemany("INSERT INTO board_images (board_id, image_id, added_by, added_at) "
                            "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING", new)
            cur.execute("UPDATE boards SET updated_at = ? WHERE id = ?", [now, board_id])
    return len(new)


def remove_images(db: Database, viewer: Viewer, board_id: str, ids: Iterable[str],
                  now: datetime) -> int:
    """Take images off the board (owner, admin or editor): only ones the viewer can see (an
    id they cannot see is left alone, as if absent). Returns how many came off."""
    wanted = _ids(ids)
    if not wanted:
        return 0
    vis, params = gallery.visible_where(viewer)
    with db.write() as cur:
        _checked(cur, viewer, board_id, "edit")
        gone = [str(r[0]) for r in cur.execute(
            f"SELECT i.id FROM board_images bi JOIN images i ON i.id = bi.image_id WHERE "
            f"bi.board_id = ? AND bi.image_id IN (SELECT unnest(?::VARCHAR[])) AND {vis}",
            [board_id, wanted, *params]).fetchall()]
        if gone:
            cur.execute("DELETE FROM board_images WHERE board_id = ? AND image_id IN "
                        "(SELECT unnest(?::VARCHAR[]))", [board_id, gone])
            cur.execute("UPDATE boards SET updated_at = ? WHERE id = ?", [now, board_id])
    return len(gone)


def summary(db: Database, viewer: Viewer, board_id: str) -> Summary:
    """Count, total cost and date range of the board's images the viewer can see."""
    get_board(db, viewer, board_id)
    vis, params = gallery.visible_where(viewer)
    row = db.fetchone(
        f"SELECT count(*), sum(i.cost_usd), min(i.created_at), max(i.created_at) FROM images i "
        f"WHERE i.id IN (SELECT image_id FROM board_images WHERE board_id = ?) AND {vis}",
        [board_id, *params]) or (0, None, None, None)
    return Summary(int(row[0] or 0), Decimal(row[1] or 0), row[2], row[3])


def images(db: Database, viewer: Viewer, board_id: str, *, page: int = 0, per_page: int = 24,
           sort: str = "newest") -> gallery.GalleryPage:
    """A page of the board's grid: the gallery's search, its visibility rule included."""
    get_board(db, viewer, board_id)
    return gallery.search(db, viewer, gallery.GalleryFilter(
        board=board_id, page=page, per_page=per_page, sort=sort))


def boards_of(db: Database, viewer: Viewer, image_id: str) -> list[Board]:
    """The boards the viewer may view that hold this image (they must see the image)."""
    if gallery.file_keys(db, viewer, image_id) is None:
        return []
    return _rows(db, viewer, "b.id IN (SELECT board_id FROM board_images WHERE image_id = ?)",
                 [image_id])


def own_images_since(db: Database, viewer: Viewer, board_id: str, since: datetime) -> list[str]:
    """The viewer's own images made at or after ``since`` not yet on the board (Generate's
    "send new images to a board")."""
    return [str(r[0]) for r in db.fetchall(
        "SELECT id FROM images WHERE user_id = ? AND created_at >= ? AND id NOT IN "
        "(SELECT image_id FROM board_images WHERE board_id = ?) ORDER BY created_at LIMIT ?",
        [viewer.username, since, board_id, MAX_IMAGES])]


def zip_board(db: Database, storage: Storage, viewer: Viewer, board_id: str) -> bytes:
    """The board's images the viewer can see, as the Gallery's zip: originals and a
    ``manifest.csv`` (prompt, model, cost, owner as ``user_id``, ...); at most ZIP_MAX."""
    board = get_board(db, viewer, board_id)
    vis, params = gallery.visible_where(viewer)
    ids = [str(r[0]) for r in db.fetchall(
        f"SELECT i.id FROM images i WHERE i.id IN (SELECT image_id FROM board_images WHERE "
        f"board_id = ?) AND {vis} ORDER BY i.created_at DESC, i.id DESC LIMIT ?",
        [board_id, *params, ZIP_MAX + 1])]
    if not ids:
        raise BoardError(f"The board {board.name!r} holds no image you can see: nothing to "
                         "download.")
    if len(ids) > ZIP_MAX:
        raise BoardError(f"The board {board.name!r} holds more than {ZIP_MAX} images: select "
                         "them in the Gallery and download them in parts.")
    return downloads.zip_images(db, storage, viewer, ids, max_images=ZIP_MAX)
