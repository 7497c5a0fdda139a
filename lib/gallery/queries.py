"""The gallery's queries: who may see which image, search, detail, and the few edits.

Visibility is decided in one place, :func:`visible_where`, which every read and edit here
uses, so a member never reaches another member's private image by any id or filter::

    role      sees                        may share / delete / tag   may rate / favourite / zip
    admin     every image                 every image                what they see
    analyst   every image                 their own images           what they see
    member    own images + shared ones    their own images           what they see

Batches (a ``batch_id``: :mod:`lib.jobs.batches`) fold into one tile each (``group_batches``:
the first image in the sort order stands for the batch, with its count) or open (``batch``).
Errors: ``GalleryError`` (PermissionError: not visible, or not theirs), ``ValueError`` (a
rating outside 1-5). Zips: :mod:`.downloads`; tags: :mod:`.tags`; boards: :mod:`lib.boards`."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from lib.audit import Action, record_each
from lib.auth import accounts as auth
from lib.auth.access import Viewer
from lib.core.errors import PromptboardError
from lib.db.database import Cursor, Database
from lib.gallery import tagnames
from lib.jobs import store
from lib.storage.base import Storage, StorageError

log = logging.getLogger(__name__)

SORTS = ("newest", "oldest", "cost", "duration", "rating")
MAX_PER_PAGE = 96
DEMO_PREFIX = "demo/"  # pooled objects shared by many demo rows; never deleted with one image
_NEWEST = "{a}.created_at DESC, {a}.id DESC"  # id breaks ties (a job's images share a time)
_ORDER = {  # over the image alias {a} and the ratings aggregate {r}
    "newest": _NEWEST, "oldest": "{a}.created_at, {a}.id",
    "cost": "{a}.cost_usd DESC NULLS LAST, " + _NEWEST,
    "duration": "{a}.duration_ms DESC NULLS LAST, " + _NEWEST,
    "rating": "{r}.avg_rating DESC NULLS LAST, {r}.ratings DESC NULLS LAST, " + _NEWEST,
}
RATINGS_SQL = ("SELECT image_id, avg(rating)::float8 AS avg_rating, count(*) AS ratings "
               "FROM image_ratings {where} GROUP BY image_id")


class GalleryError(PromptboardError, PermissionError):
    """The image is not visible to this viewer, or not theirs to change."""


def visible_where(viewer: Viewer, alias: str = "i") -> tuple[str, list[Any]]:
    """THE visibility rule: a WHERE fragment over images ``alias`` and its parameters."""
    if viewer.sees_all:
        return "TRUE", []
    return f"({alias}.user_id = ? OR {alias}.shared)", [viewer.username]


@dataclass(frozen=True)
class GalleryFilter:
    """What the gallery shows; empty tuples and None mean "no filter"."""

    text: str = ""  # case-insensitive substring of the prompt or of a tag, taken literally
    providers: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    styles: tuple[str, ...] = ()  # "none" also matches images without a style
    users: tuple[str, ...] = ()  # for members only narrows what they may see anyway
    date_from: date | None = None  # inclusive, a UTC day (timestamps are naive UTC)
    date_to: date | None = None  # inclusive, UTC
    favourites_only: bool = False
    shared_only: bool = False
    mine_only: bool = False
    include_demo: bool = True
    batch: str = ""  # only the images of this batch
    board: str = ""  # only images on this board: lib.boards checks the viewer may see it
    tags: tuple[str, ...] = ()  # images with any of these tags (all of them: tags_all)
    tags_all: bool = False
    group_batches: bool = False  # one tile per batch, with its count
    sort: str = "newest"  # newest, oldest, cost (dearest first), duration (slowest), rating
    after: tuple[datetime, str] | None = None  # newest/oldest: start after this (time, id)
    page: int = 0
    per_page: int = 24

    def __post_init__(self) -> None:
        """Lists become tuples, paging is clamped to 0.. and 1..96, an unknown sort refused."""
        if self.sort not in SORTS:
            raise ValueError(f"Unknown sort {self.sort!r}; expected one of {', '.join(SORTS)}.")
        for name in ("providers", "models", "styles", "users", "tags"):
            object.__setattr__(self, name, tuple(getattr(self, name) or ()))
        object.__setattr__(self, "page", max(0, int(self.page)))
        object.__setattr__(self, "per_page", min(MAX_PER_PAGE, max(1, int(self.per_page))))


@dataclass(frozen=True)
class ImageCard:
    """One tile of the gallery grid."""

    id: str
    job_id: str
    user_id: str
    provider: str
    model: str
    prompt: str
    style: str | None
    quality: str | None
    width: int
    height: int
    seed: int | None
    thumb_key: str
    original_key: str
    watermarked_key: str | None
    cost_usd: Decimal | None
    duration_ms: int | None
    created_at: datetime
    shared: bool
    demo: bool
    avg_rating: float | None
    ratings: int
    my_rating: int | None
    favourite: bool  # one of this viewer's favourites
    batch_id: str | None
    group_count: int  # images of its batch this tile stands for (1 unless grouping)
    tags: tuple[str, ...]  # sorted, in their one normal form (lib.gallery.tagnames)


@dataclass(frozen=True)
class ImageDetail(ImageCard):
    """Everything known about one image, and the job that made it."""

    idx: int
    negative_prompt: str | None
    bytes: int
    request_id: str | None
    rating_counts: dict[int, int]  # stars -> how many
    # The job (None if its row is gone): the _JOB_DETAIL columns below (width and height as
    # asked, cost_usd of the whole job, the watermark's settings with its logo as has_logo).
    job: dict[str, Any] | None


@dataclass(frozen=True)
class GalleryPage:
    """One page of results and where it sits (``pages`` is 0 when nothing matches); ``total``
    counts tiles (a grouped batch is one), ``images`` the matching images."""

    rows: list[ImageCard]
    total: int
    page: int
    pages: int
    images: int = 0


_EXTRA = ("avg_rating", "ratings", "my_rating", "favourite", "batch_id", "group_count", "tags")
_IMAGE_COLS = [f.name for f in fields(ImageCard) if f.name not in _EXTRA]


def _where(viewer: Viewer, f: GalleryFilter) -> tuple[str, list[Any]]:
    """Visibility AND every filter, with parameters (user input never enters the SQL text)."""
    vis, params = visible_where(viewer)
    parts, me, t0 = [vis], viewer.username, time.min
    text = f.text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    for col, values in (("i.provider", f.providers), ("i.model", f.models),
                        ("coalesce(i.style, 'none')", f.styles), ("i.user_id", f.users)):
        if values:
            parts.append(f"{col} IN ({','.join('?' * len(values))})")
            params.extend(values)
    for on, sql, args in (  # text: in the prompt or a tag, wildcards taken literally
        (text, f"(i.prompt ILIKE ? ESCAPE '\\' OR {tagnames.text_sql()})", [f"%{text}%"] * 2),
        (f.tags, *tagnames.filter_sql(f.tags, f.tags_all)),
        (f.date_from, "i.created_at >= ?", [f.date_from and datetime.combine(f.date_from, t0)]),
        (f.date_to, "i.created_at < ?",  # inclusive: before the next day starts
         [f.date_to and datetime.combine(f.date_to, t0) + timedelta(days=1)]),
        (f.favourites_only, "i.id IN (SELECT image_id FROM favourites WHERE user_id = ?)", [me]),
        (f.shared_only, "i.shared", []), (f.mine_only, "i.user_id = ?", [me]),
        (not f.include_demo, "NOT i.demo", []),
        (f.board, "i.id IN (SELECT image_id FROM board_images WHERE board_id = ?)", [f.board]),
        (f.batch, "i.job_id IN (SELECT id FROM jobs WHERE batch_id = ?)", [f.batch]),
    ):
        if on:
            parts.append(sql)
            params.extend(args)
    return " AND ".join(parts), params


def search(db: Database, viewer: Viewer, f: GalleryFilter) -> GalleryPage:
    """A page of visible images matching ``f``, and the total (a page past the end: the last)."""
    where, params = _where(viewer, f)
    group = f.group_batches and not f.batch
    # Grouping only: images of a batch share a key, others are their own group.
    bjoin = ("LEFT JOIN (SELECT id, batch_id FROM jobs WHERE batch_id IS NOT NULL) bj "
             "ON bj.id = i.job_id" if group else "")
    key = "coalesce(bj.batch_id, i.id)"
    counted = f"count(DISTINCT {key})" if group else "count(*)"
    found = db.fetchone(f"SELECT {counted}, count(*) FROM images i {bjoin} WHERE {where}", params)
    total, images = (int(found[0] or 0), int(found[1] or 0)) if found else (0, 0)
    pages = math.ceil(total / f.per_page)
    page = min(f.page, max(pages - 1, 0))
    pwhere, pparams = where, params  # the page's rows: after a keyset cursor, if any
    if f.after is not None and f.sort in ("newest", "oldest") and not group:
        pwhere = f"({where}) AND (i.created_at, i.id) {'<' if f.sort == 'newest' else '>'} (?, ?)"
        pparams, page = [*params, *f.after], 0
    rating_join = (f"LEFT JOIN ({RATINGS_SQL.format(where='')}) r ON r.image_id = i.id"
                   if f.sort == "rating" else "")  # that order needs every image's average
    order = _ORDER[f.sort].format(a="i", r="r")
    cols = ", ".join(f"i.{c}" for c in _IMAGE_COLS)
    # A top-N carrying the card's columns measured faster on early pages than one over ids
    # joined back (faster only deep into 1M rows); the rest is joined for the page's rows.
    # Grouping is a window over every match, not a top-N: there narrow ids measured 5x faster.
    sort_cols = "i.created_at, i.cost_usd, i.duration_ms" + (  # what {order} reads, for w
        ", r.avg_rating, r.ratings" if f.sort == "rating" else "")
    page_cte = f"""page AS (
            SELECT {cols}, 1 AS group_count FROM images i {rating_join}
            WHERE {pwhere} ORDER BY {order} LIMIT ? OFFSET ?)""" if not group else f"""g AS (
            SELECT id, group_count FROM (
                SELECT i.id, {sort_cols}, count(*) OVER (PARTITION BY {key}) AS group_count,
                       row_number() OVER (PARTITION BY {key} ORDER BY {order}) AS rn
                FROM images i {rating_join} {bjoin} WHERE {where}) w
            WHERE rn = 1 ORDER BY {_ORDER[f.sort].format(a="w", r="w")} LIMIT ? OFFSET ?),
        page AS (SELECT {cols}, g.group_count FROM g JOIN images i ON i.id = g.id)"""
    sql = f"""
        WITH {page_cte}
        SELECT {", ".join(f"p.{c}" for c in _IMAGE_COLS)}, r.avg_rating,
               coalesce(r.ratings, 0), mr.rating, fv.image_id IS NOT NULL, j.batch_id,
               p.group_count, {tagnames.TAGS_OF.format(a="p")}
        FROM page p
        LEFT JOIN ({RATINGS_SQL.format(where="WHERE image_id IN (SELECT id FROM page)")}) r
            ON r.image_id = p.id
        LEFT JOIN image_ratings mr ON mr.image_id = p.id AND mr.user_id = ?
        LEFT JOIN favourites fv ON fv.image_id = p.id AND fv.user_id = ?
        LEFT JOIN jobs j ON j.id = p.job_id
        ORDER BY {_ORDER[f.sort].format(a="p", r="r")}"""
    args = [*(pparams if not group else params), f.per_page, page * f.per_page,
            viewer.username, viewer.username]
    cards = [ImageCard(*r[:-1], *[tuple(r[-1] or ())]) for r in db.fetchall(sql, args)]
    return GalleryPage(cards, total, page, pages, images)


def facets(db: Database, viewer: Viewer) -> dict[str, list[str]]:
    """Distinct providers, models, styles (and users, for admins and analysts) visible."""
    vis, params = visible_where(viewer)
    cols = {"providers": "i.provider", "models": "i.model", "styles": "coalesce(i.style, 'none')"}
    if viewer.sees_all:
        cols["users"] = "i.user_id"
    aggs = ", ".join(f"array_agg(DISTINCT {c})" for c in cols.values())
    row = db.fetchone(f"SELECT {aggs} FROM images i WHERE {vis}", params) or ()
    return {name: sorted(values or []) for name, values in zip(cols, row, strict=False)}


_JOB_DETAIL = ("status", "attempts", "n", "aspect_ratio", "width", "height", "params", "usage",
               "estimated_cost_usd", "cost_usd", "duration_ms", "started_at", "finished_at",
               "watermark", "reference_key")


def get_image(db: Database, viewer: Viewer, image_id: str) -> ImageDetail | None:
    """One image with every parameter, or None when it does not exist or is not visible."""
    vis, params = visible_where(viewer)
    job = ", ".join(f"j.{c} AS job_{c}" for c in _JOB_DETAIL)  # flat: a dict in Python
    rows = db.dicts(
        f"""
        SELECT i.*, j.batch_id, j.id IS NOT NULL AS job_found, {job},
               (SELECT rating FROM image_ratings WHERE image_id = i.id AND user_id = ?)
                   AS my_rating,
               EXISTS (SELECT 1 FROM favourites WHERE image_id = i.id AND user_id = ?)
                   AS favourite, {tagnames.TAGS_OF.format(a="i")} AS tags
        FROM images i LEFT JOIN jobs j ON j.id = i.job_id
        WHERE i.id = ? AND {vis}""",
        [viewer.username, viewer.username, image_id, *params])
    if not rows:
        return None
    d, counts = rows[0], {int(k): int(v) for k, v in db.fetchall(
        "SELECT rating, count(*) FROM image_ratings WHERE image_id = ? GROUP BY rating "
        "ORDER BY rating", [image_id])}
    detail = {c: d.pop(f"job_{c}") for c in _JOB_DETAIL}
    d["job"] = detail if d.pop("job_found") else None
    if d["job"] is not None:  # JSON columns are written by Promptboard with json.dumps
        d["job"].update({k: json.loads(d["job"][k] or "{}") for k in ("params", "usage")})
        wm = json.loads(d["job"]["watermark"] or "null")  # the logo itself is base64 bulk
        d["job"]["watermark"] = wm and {**wm, "logo": None, "has_logo": bool(wm.get("logo"))}
    n = sum(counts.values())
    d.update(avg_rating=sum(k * v for k, v in counts.items()) / n if n else None, ratings=n,
             rating_counts=counts, group_count=1, tags=tuple(d["tags"] or ()))
    return ImageDetail(**{f.name: d[f.name] for f in fields(ImageDetail)})


def file_keys(db: Database, viewer: Viewer, image_id: str) -> tuple[str, str | None, str] | None:
    """(original, watermarked, thumbnail) keys of a visible image, or None: one indexed row,
    for the file routes (``get_image`` reads ratings and the job too)."""
    where, params = visible_where(viewer)
    row = db.fetchone(f"SELECT original_key, watermarked_key, thumb_key FROM images i "
                      f"WHERE i.id = ? AND {where}", [image_id, *params])
    return None if row is None else (str(row[0]), row[1], str(row[2]))


def reuse_settings(detail: ImageDetail) -> dict[str, Any]:
    """The Generate form's fields to make this image again (also valid ``JobSpec`` kwargs);
    the size is what the job asked for: pixels, a ratio, or neither (the default)."""
    job = detail.job or {"width": detail.width, "height": detail.height}
    return {
        "provider": detail.provider, "model": detail.model, "prompt": detail.prompt,
        "negative_prompt": detail.negative_prompt, "style": detail.style,
        "width": job.get("width"), "height": job.get("height"),
        "aspect_ratio": job.get("aspect_ratio"), "quality": detail.quality,
        "seed": detail.seed, "n": job.get("n") or 1,
    }


def checked_rows(cur: Cursor, viewer: Viewer, ids: Sequence[str], *, own: str = "",
                 cols: str = "i.id, i.user_id") -> list[tuple[Any, ...]]:
    """Rows of ``ids`` if all are visible (and, given ``own``, the viewer's or they are admin)."""
    auth.require_active(cur, viewer.username, viewer.role, error=GalleryError)
    vis, params = visible_where(viewer)
    rows = cur.execute(
        f"SELECT {cols} FROM images i WHERE i.id IN (SELECT unnest(?::VARCHAR[])) AND {vis}",
        [list(ids), *params]).fetchall()
    found = {r[0] for r in rows}
    missing = [i for i in ids if i not in found]
    if missing:  # the same words whether it does not exist or is someone's private image
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise GalleryError(f"Image {missing[0]}{more} was not found, or you cannot see it.")
    theirs = [r[0] for r in rows if r[1] != viewer.username]
    if own and viewer.role != "admin" and theirs:
        raise GalleryError(f"Only its owner or an admin can {own} image {theirs[0]}.")
    return rows


def _mark(db: Database, viewer: Viewer, image_id: str, table: str, values: list[Any],
          upsert: str) -> None:
    """Upsert ``values`` as (or with none, delete) the viewer's row in ``table`` for an image."""
    with db.write() as cur:
        checked_rows(cur, viewer, [image_id])
        key = [image_id, viewer.username]
        if values:
            marks = ", ".join("?" * (2 + len(values)))
            cur.execute(f"INSERT INTO {table} VALUES ({marks}) {upsert}", key + values)
        else:
            cur.execute(f"DELETE FROM {table} WHERE image_id = ? AND user_id = ?", key)


def set_favourite(db: Database, viewer: Viewer, image_id: str, on: bool, now: datetime) -> None:
    """Add or remove one of the viewer's favourites (any image they can see)."""
    _mark(db, viewer, image_id, "favourites", [now] if on else [], "ON CONFLICT DO NOTHING")


def rate(db: Database, viewer: Viewer, image_id: str, rating: int | None,
         now: datetime) -> None:
    """Set the viewer's 1-5 rating of an image they can see (one per user), or clear it."""
    if rating is not None and (isinstance(rating, bool) or rating not in range(1, 6)):
        raise ValueError(f"A rating is 1 to 5 stars, not {rating!r}.")
    _mark(db, viewer, image_id, "image_ratings", [] if rating is None else [int(rating), now],
          "ON CONFLICT (image_id, user_id) DO UPDATE SET rating = excluded.rating, "
          "rated_at = excluded.rated_at")


def set_shared(db: Database, viewer: Viewer, ids: Iterable[str], shared: bool) -> int:
    """Share images with the team or make them private (owner or admin; all or none)."""
    wanted = list(dict.fromkeys(ids))
    if wanted:
        with db.write() as cur:
            checked_rows(cur, viewer, wanted, own="share or unshare")
            cur.execute("UPDATE images SET shared = ? WHERE id IN (SELECT unnest(?::VARCHAR[]))",
                        [bool(shared), wanted])
            record_each(cur, Action.IMAGE_SHARE, [(i, {"shared": bool(shared)}) for i in wanted],
                        actor=viewer.username)
    return len(wanted)


def delete_images(db: Database, storage: Storage, viewer: Viewer, ids: Iterable[str]) -> int:
    """Delete images (owner or admin; all or none): rows first, then their stored objects.

    Rows, ratings, favourites, tags, board places (and an audit row each) go in one
    transaction; then the original, watermarked and thumbnail objects, so no row points at a
    missing one. A crash or storage error in between leaves orphans: harmless, logged, found as
    ``img/`` keys no images row names (bar queued or running jobs, whose objects precede their
    rows). Keys are one image's own but the shared ``demo/`` pool's. Job rows stay (costs).
    """
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return 0
    with db.write() as cur:
        rows = checked_rows(cur, viewer, wanted, own="delete",
                        cols="i.id, i.user_id, i.original_key, i.watermarked_key, i.thumb_key")
        job_ids = [r[0] for r in cur.execute("SELECT DISTINCT job_id FROM images WHERE id IN "
                                             "(SELECT unnest(?::VARCHAR[]))", [wanted]).fetchall()]
        store.note_images_deleted(cur, wanted)  # what they cost stays on their job (ledger.py)
        for table in ("favourites", "image_ratings", tagnames.TABLE, "board_images", "images"):
            cur.execute(f"DELETE FROM {table} WHERE {'id' if table == 'images' else 'image_id'} "
                        "IN (SELECT unnest(?::VARCHAR[]))", [wanted])
        store.recount_images(cur, job_ids)  # recounted, not decremented
        record_each(cur, Action.IMAGE_DELETE, [(r[0], {"owner": r[1]}) for r in rows],
                    actor=viewer.username)
    keys = sorted({k for r in rows for k in r[2:] if k and not k.startswith(DEMO_PREFIX)})
    try:
        storage.delete(keys)
    except StorageError:
        log.warning("deleted %d image row(s); %d object(s) are left as orphans, e.g. %s",
                    len(rows), len(keys), keys[:3], exc_info=True)
    return len(rows)
