"""Tags on images: add, remove, replace, in bulk, and the team's tags as suggestions.

Who may tag is who may share or delete (``queries.checked_rows``): the image's owner, or an
admin; anyone else who can see the image gets a ``GalleryError`` (a PermissionError) naming
the images that are not theirs, and an image they cannot see is "not found" like any other.
Every call is all or nothing: one refused image or tag and nothing is written.

What a tag is (its normal form, what is refused, the limits): :mod:`lib.gallery.tagnames`.
Suggestions and counts read only images the viewer can see (``queries.visible_where``), so a
tag that exists only on another member's private image is never shown to a member.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from lib.auth.access import Viewer
from lib.db.database import Cursor, Database
from lib.gallery.queries import GalleryError, checked_rows, visible_where
from lib.gallery.tagnames import MAX_PER_IMAGE, TABLE, TagError, match_key, normalise_all

MAX_IMAGES = 1000  # images one bulk call may tag
SUGGESTIONS = 20  # the default number of suggestions


def _owned(cur: Cursor, viewer: Viewer, ids: Sequence[str]) -> None:
    """All of ``ids`` visible (else "not found") and the viewer's own, or they are admin."""
    if len(ids) > MAX_IMAGES:
        raise TagError(f"Tag at most {MAX_IMAGES:,} images at a time, not {len(ids):,}.")
    rows = checked_rows(cur, viewer, ids)
    theirs = sorted(str(r[0]) for r in rows if r[1] != viewer.username)
    if theirs and viewer.role != "admin":
        more = f" and {len(theirs) - 5} more" if len(theirs) > 5 else ""
        which = "this image" if len(theirs) == 1 else f"these {len(theirs)} images"
        raise GalleryError(f"Only their owner or an admin can tag {which}: "
                           f"{', '.join(theirs[:5])}{more}. Nothing was changed.")


def _current(cur: Cursor, ids: Sequence[str]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {i: set() for i in ids}
    for image_id, tag in cur.execute(
            f"SELECT image_id, tag FROM {TABLE} WHERE image_id IN (SELECT unnest(?::VARCHAR[]))",
            [list(ids)]).fetchall():
        found[str(image_id)].add(str(tag))
    return found


def _write(cur: Cursor, viewer: Viewer, now: datetime, add: dict[str, list[str]],
           remove: dict[str, list[str]]) -> None:
    """Insert and delete (image, tag) pairs, after checking no image goes over the cap."""
    for image_id, tags in remove.items():
        if tags:
            cur.execute(f"DELETE FROM {TABLE} WHERE image_id = ? AND tag IN "
                        f"(SELECT unnest(?::VARCHAR[]))", [image_id, tags])
    rows = [(image_id, tag, viewer.username, now)
            for image_id, tags in add.items() for tag in tags]
    if rows:
        cur.executemany(f"INSERT INTO {TABLE} (image_id, tag, added_by, added_at) "  # a race
                        "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING", rows)  # adding it too


def _over_cap(after: dict[str, set[str]]) -> None:
    over = sorted((i for i, tags in after.items() if len(tags) > MAX_PER_IMAGE))
    if over:
        raise TagError(f"An image holds at most {MAX_PER_IMAGE} tags; image {over[0]} would "
                       f"have {len(after[over[0]])}"
                       + (f" (and {len(over) - 1} more images too many)" if len(over) > 1
                          else "") + ". Nothing was changed.")


def change(db: Database, viewer: Viewer, ids: Iterable[str], *, add: Iterable[object] = (),
           remove: Iterable[object] = (), now: datetime) -> int:
    """Add ``add`` to and remove ``remove`` from every image of ``ids`` (owner or admin; all
    or nothing). Returns how many images were given. A tag both added and removed is added."""
    wanted, adding = list(dict.fromkeys(ids)), normalise_all(add)
    removing = [t for t in normalise_all(remove) if t not in adding]
    if not wanted or not (adding or removing):
        return len(wanted)
    with db.write() as cur:
        _owned(cur, viewer, wanted)
        now_held = _current(cur, wanted)
        after = {i: (held - set(removing)) | set(adding) for i, held in now_held.items()}
        _over_cap(after)
        _write(cur, viewer, now, {i: [t for t in adding if t not in now_held[i]] for i in wanted},
               {i: [t for t in removing if t in now_held[i]] for i in wanted})
    return len(wanted)


def set_tags(db: Database, viewer: Viewer, image_id: str, tags: Iterable[object],
             now: datetime) -> list[str]:
    """Make ``tags`` exactly the image's tags (owner or admin); returns them, sorted."""
    wanted = normalise_all(tags)
    with db.write() as cur:
        _owned(cur, viewer, [image_id])
        _over_cap({image_id: set(wanted)})
        held = _current(cur, [image_id])[image_id]
        _write(cur, viewer, now, {image_id: [t for t in wanted if t not in held]},
               {image_id: sorted(held - set(wanted))})
    return sorted(wanted)


def suggestions(db: Database, viewer: Viewer, prefix: str = "",
                limit: int = SUGGESTIONS) -> list[tuple[str, int]]:
    """Tags on images the viewer can see that start with ``prefix`` (any case), with how many
    of those images carry each: most used first, then alphabetically."""
    vis, params = visible_where(viewer)
    key = match_key(prefix).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = db.fetchall(
        f"SELECT t.tag, count(*) AS n FROM {TABLE} t JOIN images i ON i.id = t.image_id "
        f"WHERE t.tag LIKE ? ESCAPE '\\' AND {vis} GROUP BY t.tag ORDER BY n DESC, t.tag "
        "LIMIT ?", [key + "%", *params, max(1, min(int(limit), 1000))])
    return [(str(tag), int(n)) for tag, n in rows]
