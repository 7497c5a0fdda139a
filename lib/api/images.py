"""``/api/v1/images``: the gallery over HTTP, and the image files themselves.

Search, filters and visibility are the Gallery page's (``gallery.queries`` with the caller as
viewer), so a member sees their own images and shared ones, never another's private image,
and gets 404 for one as if it did not exist. The file routes also serve the dashboard's own
``<img>`` tags (signed-in cookie), so:

- every answer carries an ``ETag`` (an image's keys are never reused, so its key is its
  version) and ``Cache-Control: private, max-age=…``: a browser keeps it, shared caches don't;
- ``If-None-Match`` with that ETag is answered ``304`` with no body, after the visibility
  check, so a page flipped back to costs headers only, and a revoked session gets 401 even
  for what its browser has cached the ETag of;
- with S3 storage, ``?redirect=1`` answers ``307`` to a presigned URL valid for minutes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Literal

from starlette.responses import RedirectResponse, Response

from lib.api import cursors
from lib.api.errors import ApiError, not_found
from lib.api.jobs import MAKERS
from lib.api.ops import Call, Op
from lib.api.schemas import (
    Done,
    FavouriteIn,
    ImageDetailOut,
    ImageList,
    ImageOut,
    ImageQuery,
    RatingIn,
    ShareIn,
    Strict,
)
from lib.gallery import media
from lib.gallery import queries as gallery
from lib.gallery.queries import GalleryFilter, ImageCard
from lib.imaging import images as imaging

MAX_AGE = 86_400  # a day: the key never changes, but a revoked viewer's cache should age out
PRESIGN_S = 300
TYPES = {".png": "image/png", ".webp": "image/webp", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
         ".gif": "image/gif"}


class FileQuery(Strict):
    """Which file of an image: the original (default) or the watermarked copy."""

    variant: Literal["original", "watermarked"] = "original"
    redirect: bool = False
    download: bool = False


class ThumbQuery(Strict):
    """The thumbnail and the preview take no options."""


def _fields(card: ImageCard) -> dict[str, object]:
    return dict(
        id=card.id, job_id=card.job_id, user=card.user_id, provider=card.provider,
        model=card.model, prompt=card.prompt, style=card.style, quality=card.quality,
        width=card.width, height=card.height, seed=card.seed, cost_usd=card.cost_usd,
        duration_ms=card.duration_ms, created_at=card.created_at, shared=card.shared,
        demo=card.demo, favourite=card.favourite, avg_rating=card.avg_rating,
        ratings=card.ratings, my_rating=card.my_rating, batch_id=card.batch_id,
        tags=list(card.tags),
        file_url=f"/api/v1/images/{card.id}/file",
        thumbnail_url=f"/api/v1/images/{card.id}/thumbnail")


def card_out(card: ImageCard) -> ImageOut:
    """One gallery card as the API shows it (the boards' pages of images too)."""
    return ImageOut.model_validate(_fields(card))


def search(call: Call) -> ImageList:
    """A page of visible images matching the gallery's filters. Newest and oldest page by a
    keyset cursor (stable while images arrive; a full last page may be followed by an empty
    one); the other orders by position."""
    q: ImageQuery = call.query
    keyset = q.sort in ("newest", "oldest")
    after = cursors.decode(q.cursor) if q.cursor and keyset else None
    offset = cursors.decode_offset(q.cursor) if q.cursor and not keyset else 0
    f = GalleryFilter(
        text=q.q, providers=tuple(q.provider), models=tuple(q.model), styles=tuple(q.style),
        users=tuple(q.user), date_from=q.date_from, date_to=q.date_to,
        favourites_only=q.favourites, shared_only=q.shared, mine_only=q.mine,
        include_demo=q.include_demo, batch=q.batch, tags=tuple(q.tag),
        tags_all=q.tag_match == "all", sort=q.sort, after=after,
        page=offset // q.limit, per_page=q.limit)
    page = gallery.search(call.svc.db, call.who.viewer, f)
    rows = page.rows
    if keyset:
        last = rows[-1] if len(rows) == q.limit else None
        cursor = cursors.encode(last.created_at, last.id) if last else None
    else:
        end = (page.page + 1) * q.limit
        more = offset // q.limit == page.page and end < page.total
        cursor = cursors.encode_offset(end) if more else None
    return ImageList(images=[card_out(c) for c in rows],
                     total=page.total, next_cursor=cursor)


def _detail(call: Call) -> gallery.ImageDetail:
    img = gallery.get_image(call.svc.db, call.who.viewer, call.path["image_id"])
    if img is None:
        raise not_found("No such image, or it is not visible to you.")
    return img


def read(call: Call) -> ImageDetailOut:
    """Everything known of one image: parameters, cost, duration, ratings, its job."""
    img = _detail(call)
    return ImageDetailOut.model_validate({
        **_fields(img), "negative_prompt": img.negative_prompt, "bytes": img.bytes,
        "request_id": img.request_id,
        "rating_counts": {str(k): v for k, v in img.rating_counts.items()},
        "job": img.job})


def _serve(call: Call, key: str, *, download: str | None = None,
           load: Callable[[str], bytes] | None = None, tag: str = "") -> Response:
    """``key``'s bytes (or ``load(key)``'s, a WebP) with the caching headers, or 304."""
    etag = '"' + hashlib.sha256((key + tag).encode()).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": f"private, max-age={MAX_AGE}",
               "Vary": "Cookie, Authorization"}
    sent = call.request.headers.get("if-none-match", "")
    if etag in {t.strip().removeprefix("W/") for t in sent.split(",")} or sent == "*":
        return Response(status_code=304, headers=headers)
    suffix = ".webp" if load is not None else (key[key.rfind("."):].lower() if "." in key
                                               else "")
    if download:
        headers["Content-Disposition"] = f'attachment; filename="{download}{suffix}"'
    body = load(key) if load is not None else call.svc.storage.get(key)
    return Response(body, media_type=TYPES.get(suffix, "application/octet-stream"),
                    headers=headers)


def _keys(call: Call) -> tuple[str, str | None, str]:
    found = gallery.file_keys(call.svc.db, call.who.viewer, call.path["image_id"])
    if found is None:
        raise not_found("No such image, or it is not visible to you.")
    return found


def file(call: Call) -> Response:
    """The image file (original or watermarked), cached privately, 304 on a revisit."""
    q: FileQuery = call.query
    original, watermarked, _ = _keys(call)
    key = original if q.variant == "original" else watermarked
    if not key:
        raise not_found("This image has no watermarked copy.")
    if q.redirect and (url := call.svc.storage.url(key, PRESIGN_S)):
        return RedirectResponse(url, status_code=307, headers={"Cache-Control": "no-store"})
    image_id = call.path["image_id"]
    return _serve(call, key, download=f"promptboard-{image_id}" if q.download else None)


def thumbnail(call: Call) -> Response:
    """The image's thumbnail (WebP), cached privately, 304 on a revisit."""
    return _serve(call, _keys(call)[2])


def preview(call: Call) -> Response:
    """A WebP of the image (its watermarked copy if any) at most 2048 px on its long side:
    what the image dialog shows. Cached privately, 304 on a revisit."""
    original, watermarked, _ = _keys(call)
    try:
        return _serve(call, watermarked or original, tag="#preview",
                      load=lambda key: media.preview_bytes(call.svc, key))
    except imaging.ImageError as exc:
        raise ApiError(422, "unreadable", f"This image can't be previewed: {exc}") from None


def favourite(call: Call) -> Done:
    """Mark or unmark one of your favourites."""
    body: FavouriteIn = call.body
    img = _detail(call)
    gallery.set_favourite(call.svc.db, call.who.viewer, img.id, body.favourite,
                          call.svc.clock.now())
    return Done(detail="Added to your favourites." if body.favourite
                else "Removed from your favourites.")


def rating(call: Call) -> Done:
    """Rate an image 1 to 5 stars, or take your rating back (null)."""
    body: RatingIn = call.body
    img = _detail(call)
    gallery.rate(call.svc.db, call.who.viewer, img.id, body.rating, call.svc.clock.now())
    return Done(detail="Rating saved." if body.rating else "Rating removed.")


def share(call: Call) -> Done:
    """Share your image with the team (admins: anyone's), or take it back."""
    body: ShareIn = call.body
    img = _detail(call)
    gallery.set_shared(call.svc.db, call.who.viewer, [img.id], body.shared)
    return Done(detail="Shared with the team." if body.shared else "No longer shared.")


def delete(call: Call) -> Done:
    """Delete your image (admins: anyone's): its files go, its cost stays in the ledger."""
    img = _detail(call)
    gallery.delete_images(call.svc.db, call.svc.storage, call.who.viewer, [img.id])
    return Done(detail="Image deleted.")


def ops() -> list[Op]:
    """The image routes."""
    one = "/images/{image_id}"
    binary = ("image/png", "image/webp", "image/jpeg")
    return [
        Op("GET", "/images", "listImages", "Search the gallery (cursor-paginated)", search,
           out=ImageList, query=ImageQuery, errors=(422,)),
        Op("GET", one, "getImage", "One image: parameters, cost, duration", read,
           out=ImageDetailOut, errors=(404,)),
        Op("GET", one + "/file", "getImageFile", "The image file", file, query=FileQuery,
           media=binary, errors=(304, 307, 404)),
        Op("GET", one + "/thumbnail", "getImageThumbnail", "The thumbnail", thumbnail,
           query=ThumbQuery, media=("image/webp",), errors=(304, 404)),
        Op("GET", one + "/preview", "getImagePreview", "A preview at most 2048 px", preview,
           query=ThumbQuery, media=("image/webp",), errors=(304, 404, 422)),
        Op("PUT", one + "/favourite", "setFavourite", "Mark or unmark a favourite", favourite,
           out=Done, body=FavouriteIn, errors=(404,)),
        Op("PUT", one + "/rating", "rateImage", "Rate 1-5 stars, or null to clear", rating,
           out=Done, body=RatingIn, errors=(404, 422)),
        Op("PUT", one + "/share", "shareImage", "Share with the team, or stop sharing", share,
           out=Done, body=ShareIn, roles=MAKERS, errors=(404,)),
        Op("DELETE", one, "deleteImage", "Delete an image (its cost stays in the ledger)",
           delete, out=Done, roles=MAKERS, errors=(404,)),
    ]
