"""Tags over HTTP: an image's tags (replace, add one, remove one), bulk tagging, suggestions.

The rules are ``lib.gallery.tags``'s, the Gallery page's: only an image's owner or an admin
changes its tags (403 with a sentence naming the images that are not yours; nothing is
changed), an image you cannot see is 404 as if it did not exist, a refused tag is 422 saying
why. Writes need a full-scope token of a role that may generate (as sharing does); reading
tags and suggestions is open to every role, and suggestions come only from images the caller
can see. Images carry their tags in ``GET /api/v1/images`` (filter with ``?tag=``).
"""

from __future__ import annotations

from lib.api.errors import not_found
from lib.api.jobs import MAKERS
from lib.api.ops import Call, Op
from lib.api.schemas import BulkTagsIn, Done, TagCount, TagIn, TagList, TagQuery, TagsIn, TagsOut
from lib.gallery import queries as gallery
from lib.gallery import tags


def _image(call: Call) -> gallery.ImageDetail:
    img = gallery.get_image(call.svc.db, call.who.viewer, call.path["image_id"])
    if img is None:
        raise not_found("No such image, or it is not visible to you.")
    return img


def _now_tags(call: Call, image_id: str) -> TagsOut:
    img = gallery.get_image(call.svc.db, call.who.viewer, image_id)
    return TagsOut(image_id=image_id, tags=list(img.tags) if img else [])


def replace_tags(call: Call) -> TagsOut:
    """Make these exactly the image's tags (owner or admin)."""
    body: TagsIn = call.body
    img = _image(call)
    done = tags.set_tags(call.svc.db, call.who.viewer, img.id, body.tags, call.svc.clock.now())
    return TagsOut(image_id=img.id, tags=done)


def add_tag(call: Call) -> TagsOut:
    """Add one tag to the image (owner or admin); adding a tag it has changes nothing."""
    body: TagIn = call.body
    img = _image(call)
    tags.change(call.svc.db, call.who.viewer, [img.id], add=[body.tag], now=call.svc.clock.now())
    return _now_tags(call, img.id)


def remove_tag(call: Call) -> TagsOut:
    """Remove one tag from the image (owner or admin); the tag in the path, URL-encoded."""
    img = _image(call)
    tags.change(call.svc.db, call.who.viewer, [img.id], remove=[call.path["tag"]],
                now=call.svc.clock.now())
    return _now_tags(call, img.id)


def bulk(call: Call) -> Done:
    """Add and remove tags on many images at once: all of them yours (or you are an admin),
    or nothing is changed."""
    body: BulkTagsIn = call.body
    n = tags.change(call.svc.db, call.who.viewer, body.image_ids, add=body.add,
                    remove=body.remove, now=call.svc.clock.now())
    return Done(detail=f"Tags changed on {n} image{'s' if n != 1 else ''}.")


def suggest(call: Call) -> TagList:
    """Tags on images you can see, starting with ``prefix``: most used first."""
    q: TagQuery = call.query
    found = tags.suggestions(call.svc.db, call.who.viewer, q.prefix, q.limit)
    return TagList(tags=[TagCount(tag=tag, images=n) for tag, n in found])


def ops() -> list[Op]:
    """The tag routes."""
    one = "/images/{image_id}/tags"
    return [
        Op("PUT", one, "setImageTags", "Replace an image's tags", replace_tags, out=TagsOut,
           body=TagsIn, roles=MAKERS, errors=(404, 422)),
        Op("POST", one, "addImageTag", "Add one tag to an image", add_tag, out=TagsOut,
           body=TagIn, roles=MAKERS, errors=(404, 422)),
        Op("DELETE", one + "/{tag}", "removeImageTag", "Remove one tag from an image",
           remove_tag, out=TagsOut, roles=MAKERS, errors=(404, 422)),
        Op("POST", "/images/tags", "tagImages", "Add and remove tags on many images (all or "
           "nothing)", bulk, out=Done, body=BulkTagsIn, roles=MAKERS, errors=(404, 422)),
        Op("GET", "/tags", "suggestTags", "Tags on images you can see, most used first",
           suggest, out=TagList, query=TagQuery),
    ]
