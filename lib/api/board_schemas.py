"""The boards API's request and answer shapes (``lib/api/boards.py``); the conventions are
:mod:`lib.api.schemas`'s (money a decimal string, UTC times, unknown fields refused)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from lib.api.schemas import Money, Strict, Utc, UtcOrNone

Visibility = Literal["private", "team", "members"]


class BoardIn(Strict):
    """A new board: yours, private unless you say otherwise."""

    name: str = Field(max_length=1000, description="at most 80 characters once trimmed; no "
                      "control or invisible character")
    description: str = Field("", max_length=10_000, description="at most 1000 characters")
    visibility: Visibility = "private"


class BoardPatch(Strict):
    """What to change (owner or admin); a field left out is left as it is."""

    name: str | None = Field(None, max_length=1000)
    description: str | None = Field(None, max_length=10_000)
    visibility: Visibility | None = None
    archived: bool | None = None


class BoardOut(BaseModel):
    """A board and your right on it: view, edit (its images) or manage (everything)."""

    id: str
    name: str
    description: str
    owner: str
    visibility: Visibility
    archived: bool
    created_at: Utc
    updated_at: Utc
    right: Literal["view", "edit", "manage"]


class BoardDetailOut(BoardOut):
    """A board with what it holds, counting only the images you can see."""

    images: int
    cost_usd: Money
    first_image_at: UtcOrNone
    last_image_at: UtcOrNone
    members: dict[str, Literal["viewer", "editor"]]


class BoardList(BaseModel):
    """Boards you may view, most recently changed first."""

    boards: list[BoardOut]


class BoardQuery(Strict):
    """List archived boards instead of the current ones."""

    archived: bool = False


class BoardImagesIn(Strict):
    """Image ids to put on or take off a board (at most 1000)."""

    image_ids: list[str] = Field(min_length=1, max_length=1000)


class BoardImagesQuery(Strict):
    """A page of a board's images, newest first."""

    limit: int = Field(24, ge=1, le=96)
    cursor: str | None = None


class MembersIn(Strict):
    """The board's named members, replacing the old list: username -> viewer or editor."""

    members: dict[str, Literal["viewer", "editor"]] = Field(max_length=200)


class MembersOut(BaseModel):
    """The board's named members after the change."""

    board_id: str
    members: dict[str, Literal["viewer", "editor"]]


class BoardZipQuery(Strict):
    """The board's zip takes no options."""
