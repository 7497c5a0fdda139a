"""The API's request and answer shapes (pydantic): checked on the way in, documented as is.

Money is a decimal string (``"0.04000000"``), never a float, so a finance script sums what
the ledger holds. Times are ISO 8601 UTC. Request models forbid unknown fields, so a typo
(``promt``) is a 422 that names it instead of being ignored.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer


def _money(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _utc(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


# USD as a fixed-point string ("0.04000000"), as the ledger stores it; never a float.
Money = Annotated[Decimal | None, PlainSerializer(_money, return_type=str | None)]
# A moment in UTC, with its offset ("2026-12-07T02:27:03.280638+00:00").
Utc = Annotated[datetime, PlainSerializer(_utc, return_type=str)]
UtcOrNone = Annotated[datetime | None, PlainSerializer(_utc, return_type=str | None)]


class Strict(BaseModel):
    """A request body or query: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


class WatermarkIn(Strict):
    """Text and/or a logo stamped on every image of the job."""

    text: str | None = Field(None, max_length=200)
    logo_base64: str | None = Field(None, description="PNG/JPEG/WebP logo, base64; or send "
                                    "it as the multipart file `watermark_logo`")
    position: str = "bottom-right"
    opacity: float = 0.5
    scale: float = 0.2


class JobIn(Strict):
    """The Generate form's fields. Give ``size`` (``WxH``) or ``aspect_ratio``, per provider."""

    prompt: str = Field(max_length=32_000)
    provider: str = Field("sandbox", description="see GET /api/v1/providers")
    model: str | None = None
    size: str | None = Field(None, pattern=r"^\d{2,5}x\d{2,5}$", examples=["1024x1024"])
    aspect_ratio: str | None = Field(None, examples=["16:9"])
    quality: str | None = None
    n: int = Field(1, ge=1, le=16, description="images per job")
    seed: int | None = Field(None, ge=0)
    negative_prompt: str | None = Field(None, max_length=32_000)
    style: str | None = None
    watermark: WatermarkIn | None = None
    reference_image_base64: str | None = Field(None, description="a reference image, base64; "
                                               "or send it as the multipart file `reference`")
    variations: int = Field(1, ge=1, le=16, description="jobs with their own seeds (a batch)")
    seed_mode: Literal["random", "consecutive"] = "random"
    override_budget: bool = Field(False, description="admins only: queue past a budget")


class ImageRef(BaseModel):
    """An image of a job, with the routes that serve it."""

    id: str
    url: str
    file_url: str
    thumbnail_url: str


class JobOut(BaseModel):
    """A job and its state; costs in USD as decimal strings."""

    id: str
    status: str
    batch_id: str | None
    user: str
    provider: str
    model: str
    prompt: str
    negative_prompt: str | None
    style: str | None
    size: str | None
    aspect_ratio: str | None
    quality: str | None
    seed: int | None
    n: int
    attempts: int
    progress: float | None
    error_type: str | None
    error_message: str | None
    estimated_cost_usd: Money
    cost_usd: Money
    duration_ms: int | None
    created_at: Utc
    started_at: UtcOrNone
    finished_at: UtcOrNone
    cancel_requested: bool
    images: list[ImageRef]


class JobsAccepted(BaseModel):
    """The queued jobs: one, or a batch of variations sharing ``batch_id``."""

    batch_id: str | None
    jobs: list[JobOut]


class JobList(BaseModel):
    """Jobs, newest first; ``next_cursor`` fetches the next page (null: no more)."""

    jobs: list[JobOut]
    next_cursor: str | None


class JobQuery(Strict):
    """Filters of GET /jobs. Members see their own jobs; admins everyone's (or ``user``'s)."""

    status: list[str] = Field(default_factory=list)
    since: datetime | None = Field(None, description="created at or after (ISO 8601, UTC)")
    user: str | None = Field(None, description="admins: one user's jobs")
    limit: int = Field(50, ge=1, le=200)
    cursor: str | None = None


class ImageQuery(Strict):
    """The gallery's filters and search, as query parameters."""

    q: str = Field("", max_length=500, description="text in the prompt or in a tag")
    provider: list[str] = Field(default_factory=list)
    model: list[str] = Field(default_factory=list)
    style: list[str] = Field(default_factory=list)
    user: list[str] = Field(default_factory=list)
    date_from: date | None = None
    date_to: date | None = None
    favourites: bool = False
    shared: bool = False
    mine: bool = False
    include_demo: bool = True
    batch: str = ""
    tag: list[str] = Field(default_factory=list, description="images with any of these tags "
                           "(repeat the parameter; all of them with tag_match=all)")
    tag_match: Literal["any", "all"] = "any"
    sort: Literal["newest", "oldest", "cost", "duration", "rating"] = "newest"
    limit: int = Field(24, ge=1, le=96)
    cursor: str | None = None


class ImageOut(BaseModel):
    """One image: what made it, what it cost, what people think of it."""

    id: str
    job_id: str
    user: str
    provider: str
    model: str
    prompt: str
    style: str | None
    quality: str | None
    width: int
    height: int
    seed: int | None
    cost_usd: Money
    duration_ms: int | None
    created_at: Utc
    shared: bool
    demo: bool
    favourite: bool
    avg_rating: float | None
    ratings: int
    my_rating: int | None
    batch_id: str | None
    tags: list[str] = Field(description="sorted, lower case (see README, Tags)")
    file_url: str
    thumbnail_url: str


class ImageDetailOut(ImageOut):
    """Everything known of one image and its job."""

    negative_prompt: str | None
    bytes: int
    request_id: str | None
    rating_counts: dict[str, int]
    job: dict[str, object] | None


class ImageList(BaseModel):
    """A page of images; ``next_cursor`` fetches the next (null: the last page)."""

    images: list[ImageOut]
    total: int
    next_cursor: str | None


class FavouriteIn(Strict):
    """Mark or unmark one of your favourites."""

    favourite: bool


class RatingIn(Strict):
    """Your stars for an image, 1 to 5, or null to take them back."""

    rating: int | None = Field(ge=1, le=5)


class ShareIn(Strict):
    """Share an image with the team, or take it back."""

    shared: bool


class Done(BaseModel):
    """A write that answers with what it did."""

    ok: bool = True
    detail: str


class TagsIn(Strict):
    """An image's whole set of tags (replacing what it had); ``[]`` removes them all."""

    tags: list[str] = Field(max_length=100, description="at most 20 after duplicates go; "
                            "each at most 40 characters, no comma or control character")


class TagIn(Strict):
    """One tag to add."""

    tag: str = Field(max_length=1000)


class TagsOut(BaseModel):
    """An image's tags after the change, sorted."""

    image_id: str
    tags: list[str]


class BulkTagsIn(Strict):
    """Tags to add to and remove from every listed image: all or nothing."""

    image_ids: list[str] = Field(min_length=1, max_length=1000)
    add: list[str] = Field(default_factory=list, max_length=100)
    remove: list[str] = Field(default_factory=list, max_length=100)


class TagQuery(Strict):
    """Suggestions: tags on images you can see, starting with ``prefix`` (any case)."""

    prefix: str = Field("", max_length=100)
    limit: int = Field(20, ge=1, le=200)


class TagCount(BaseModel):
    """A tag and how many images you can see carry it."""

    tag: str
    images: int


class TagList(BaseModel):
    """Tags, most used first, then alphabetically."""

    tags: list[TagCount]
