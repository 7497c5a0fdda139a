"""Migration 024: free-text tags on images (``lib/gallery/tags.py`` reads and writes them).

One row per (image, tag); the tag is stored normalised (``lib.gallery.tagnames.normalise``), so
the primary key makes a tag once per image whatever its case or spacing. The index on ``tag``
serves the gallery's tag filter and the suggestions."""

from __future__ import annotations

from lib.db.cursor import Cursor


def create_tables(cur: Cursor) -> None:
    """Migration 024: ``image_tags`` and its index on ``tag``."""
    cur.execute(
        "CREATE TABLE image_tags (image_id TEXT NOT NULL, tag TEXT NOT NULL, "
        "added_by TEXT NOT NULL, added_at TIMESTAMP NOT NULL, PRIMARY KEY (image_id, tag))"
    )
    cur.execute("CREATE INDEX image_tags_tag_idx ON image_tags (tag)")
