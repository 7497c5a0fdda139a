"""Style previews drawn on demand through the job queue, then kept as the style's thumbnail.

A preview is an ordinary job (so it shows in the queue, counts against budgets and is paid
by whoever asked) of ``styles.PREVIEW_PROMPT`` in the style, with the style's suggested
provider, model, quality and size when that provider is configured, else the free sandbox::

    request ──▶ job queued (styles.preview_job_id = job) ──worker──▶ succeeded
                                                                        │ collect()
    styles.preview_key = styles/<id>-<hash>.webp (a copy of the job's thumbnail) ◀┘

The thumbnail is copied under the style's own key, so deleting the image from the Gallery
does not take the preview with it. A preview whose template changed while its job ran is
not kept (its hash no longer matches); a failed job stays linked so the page can show why.

Errors: ``styles.StyleError`` with a message for a person (unknown style, a role that may
not, a refused job).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lib import jobs
from lib.auth import accounts as auth
from lib.catalog import book as catalog
from lib.core.context import Services
from lib.providers import registry
from lib.storage.base import StorageError
from lib.styles import library as styles

if TYPE_CHECKING:
    from lib.auth.accounts import User

log = logging.getLogger(__name__)
SANDBOX_SIZE = (512, 512)  # the sandbox's smallest: a preview is shown at 384 px at most


@dataclass(frozen=True)
class PreviewJob:
    """The job drawing a style's preview, as the page shows it."""

    job_id: str
    status: str
    error_message: str | None

    @property
    def pending(self) -> bool:
        """Queued or running."""
        return self.status in jobs.ACTIVE


def spec_for(style: styles.Style, book: catalog.Book = catalog.SHIPPED) -> jobs.JobSpec:
    """The job that previews ``style``: its suggested settings where they fit, else sandbox."""
    want = style.settings.get("provider", "sandbox")
    cls = registry.PROVIDERS.get(want)
    if cls is None or not registry.is_configured(cls):
        cls = registry.get("sandbox")
    suggested = cls.id == style.settings.get("provider")
    model = style.settings.get("model") if suggested else None
    caps = book.caps(cls.id, model or book.line(cls.id).default)
    size = style.settings.get("size") if suggested else None
    width = height = None
    if size in caps.sizes and size:
        width, height = (int(x) for x in size.split("x"))
    elif cls.id == "sandbox":
        width, height = SANDBOX_SIZE
    quality = style.settings.get("quality") if suggested else None
    return jobs.JobSpec(
        prompt=styles.PREVIEW_PROMPT, provider=cls.id, model=model, style=style.id,
        width=width, height=height, quality=quality if quality in caps.qualities else None,
        seed=styles.PREVIEW_SEED if caps.seed else None,
        params={"style_preview": style.id, "preview_hash": style.preview_hash()})


def request(engine: Services, user: User, style_id: str) -> str:
    """Queue a preview of a style (any status) as ``user``; an unfinished one is reused."""
    if user.role not in ("admin", "member") or user.disabled:
        raise styles.StyleError("Only members and admins can draw style previews.")
    auth.require_active(engine.db, user.username, user.role, error=styles.StyleError)
    style = styles.find(engine.db, style_id)
    if style is None:
        raise styles.StyleError(f"There is no style {style_id!r}.")
    current = pending(engine).get(style.id)
    if current is not None and current.pending:
        return current.job_id
    try:
        job_id = jobs.submit(engine, user.username, spec_for(style, catalog.book(engine.db)))
    except jobs.SubmitError as exc:
        raise styles.StyleError(f"The preview could not be queued: {exc}") from None
    styles.seed(engine.db, engine.clock.now())  # a builtin not yet stored gets its row
    with engine.db.write() as cur:
        cur.execute("UPDATE styles SET preview_job_id = ? WHERE id = ?", [job_id, style.id])
    return job_id


def pending(engine: Services) -> dict[str, PreviewJob]:
    """Every style's linked preview job (unfinished or failed), in one query."""
    rows = engine.db.fetchall(
        "SELECT s.id, j.id, j.status, j.error_message FROM styles s "
        "JOIN jobs j ON j.id = s.preview_job_id")
    return {r[0]: PreviewJob(r[1], r[2], r[3]) for r in rows}


def collect(engine: Services) -> int:
    """Keep the thumbnails of finished preview jobs as their styles' previews; returns how
    many styles got a new preview. Cheap when nothing finished (one small query)."""
    rows = engine.db.fetchall(
        "SELECT s.id, j.id, CAST(j.params AS JSON) ->> 'preview_hash', i.thumb_key "
        "FROM styles s JOIN jobs j ON j.id = s.preview_job_id "
        "LEFT JOIN images i ON i.job_id = j.id AND i.idx = 0 WHERE j.status = 'succeeded'")
    kept = 0
    for style_id, job_id, drawn_hash, thumb_key in rows:
        style = styles.find(engine.db, style_id)
        if style is None:
            continue
        fresh = drawn_hash == style.preview_hash() and thumb_key
        key = style.preview_key_for() if fresh else None
        try:
            if key:
                engine.storage.put(key, engine.storage.get(thumb_key), "image/webp")
        except StorageError:
            log.warning("preview job %s of style %s: thumbnail not copied", job_id, style_id,
                        exc_info=True)
            continue
        with engine.db.write() as cur:
            cur.execute(
                "UPDATE styles SET preview_job_id = NULL, "
                "preview_key = CASE WHEN ?::TEXT IS NULL THEN preview_key ELSE ? END "
                "WHERE id = ? AND preview_job_id = ?", [key, key, style_id, job_id])
        if key:
            kept += 1
            if style.preview_key and style.preview_key != key:
                engine.storage.delete([style.preview_key])
    return kept
