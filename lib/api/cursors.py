"""Opaque page cursors: where the last page ended, so the next starts after it.

A keyset cursor (a time and an id, newest first) stays right while rows are added, unlike a
page number; an offset cursor serves orders that have no such key (cost, rating). Both are
base64 of JSON, and a cursor that does not decode is a 422, never a server error.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime

from lib.api.errors import ApiError

BAD = "The cursor is not one this server gave out: drop it to start from the first page."


def naive_utc(at: datetime) -> datetime:
    """A time as the database keeps it: naive UTC."""
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo is not None else at


def _pack(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def _unpack(cursor: str) -> object:
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ApiError(422, "invalid", BAD) from None


def encode(at: datetime, last_id: str) -> str:
    """A keyset cursor after (``at``, ``last_id``)."""
    return _pack({"at": at.isoformat(), "id": last_id})


def decode(cursor: str) -> tuple[datetime, str]:
    """The (time, id) a keyset cursor points after."""
    value = _unpack(cursor)
    if not isinstance(value, dict) or "at" not in value or "id" not in value:
        raise ApiError(422, "invalid", BAD)
    try:
        return datetime.fromisoformat(str(value["at"])), str(value["id"])
    except ValueError:
        raise ApiError(422, "invalid", BAD) from None


def encode_offset(offset: int) -> str:
    """A cursor to the row at ``offset``."""
    return _pack({"offset": offset})


def decode_offset(cursor: str) -> int:
    """The row offset a cursor points to."""
    value = _unpack(cursor)
    if not isinstance(value, dict) or not isinstance(value.get("offset"), int) \
            or value["offset"] < 0:
        raise ApiError(422, "invalid", BAD)
    return int(value["offset"])
