"""The Gallery's ticked images as the bulk actions see them: a thumbnail each, and whose.

The delete confirmation draws every image it will delete from :func:`previews`, so what a
person confirms is exactly what ``gallery.delete_images`` is then given. Visibility is
:func:`lib.gallery.queries.visible_where`'s: an id the viewer may not see is simply not returned.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from lib.auth.access import Viewer
from lib.db.database import Database
from lib.gallery.queries import visible_where


@dataclass(frozen=True)
class Preview:
    """One ticked image: its thumbnail, its prompt, and whether the viewer may delete it."""

    id: str
    thumb_key: str
    prompt: str
    deletable: bool  # the viewer's own image, or the viewer is an admin


def previews(db: Database, viewer: Viewer, ids: Iterable[str]) -> list[Preview]:
    """The visible ones of ``ids``, in the order given (duplicates once)."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return []
    vis, params = visible_where(viewer)
    rows = db.fetchall(
        f"SELECT i.id, i.thumb_key, i.prompt, i.user_id FROM images i "
        f"WHERE i.id IN (SELECT unnest(?::VARCHAR[])) AND {vis}", [wanted, *params])
    found = {r[0]: r for r in rows}
    admin = viewer.role == "admin"
    return [Preview(str(r[0]), str(r[1]), str(r[2]), admin or r[3] == viewer.username)
            for r in (found[i] for i in wanted if i in found)]
