"""Migration 025: boards (``lib/boards``): named collections of images, shared as their owner says.

``boards`` holds one row per board; ``board_members`` the named people and their right
(``viewer`` or ``editor``; the column is ``access`` because ``RIGHT`` is an SQL keyword);
``board_images`` which image sits on which board (an image may sit on several; deleting a
board deletes these rows, never an image; deleting an image deletes its rows here)."""

from __future__ import annotations

from lib.db.cursor import Cursor


def create_tables(cur: Cursor) -> None:
    """Migration 025: ``boards``, ``board_members``, ``board_images`` and their indexes."""
    cur.execute(
        "CREATE TABLE boards (id TEXT PRIMARY KEY, name TEXT NOT NULL, "
        "description TEXT NOT NULL DEFAULT '', owner TEXT NOT NULL, visibility TEXT NOT NULL "
        "CHECK (visibility IN ('private', 'team', 'members')), "
        "archived BOOLEAN NOT NULL DEFAULT FALSE, created_at TIMESTAMP NOT NULL, "
        "updated_at TIMESTAMP NOT NULL)"
    )
    cur.execute("CREATE INDEX boards_owner_idx ON boards (owner)")
    cur.execute(
        "CREATE TABLE board_members (board_id TEXT NOT NULL, username TEXT NOT NULL, "
        "access TEXT NOT NULL CHECK (access IN ('viewer', 'editor')), "
        "PRIMARY KEY (board_id, username))"
    )
    cur.execute("CREATE INDEX board_members_user_idx ON board_members (username)")
    cur.execute(
        "CREATE TABLE board_images (board_id TEXT NOT NULL, image_id TEXT NOT NULL, "
        "added_by TEXT NOT NULL, added_at TIMESTAMP NOT NULL, PRIMARY KEY (board_id, image_id))"
    )
    cur.execute("CREATE INDEX board_images_image_idx ON board_images (image_id)")
