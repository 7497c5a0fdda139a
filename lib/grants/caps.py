"""A user's daily image cap: at most so many images asked for per UTC day (the engine's
clock), set by an admin on Admin → Access (and ``PUT /api/v1/admin/access``).

What a day counts, per job created that day: the images it made once it has ended
(succeeded, failed or cancelled: a failure that made nothing counts nothing), and the images
it asks for while it is queued or running. Submit checks the cap under the same write lock as
the budgets, so two tabs or a double click cannot pass it together; a batch is checked as a
whole before its first job is queued.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import TYPE_CHECKING

from lib.audit import Action, record
from lib.grants.rules import GrantError

if TYPE_CHECKING:
    from lib.db.cursor import Cursor
    from lib.db.database import Database

MAX_CAP = 100_000
_USED = ("SELECT coalesce(sum(CASE WHEN status IN ('succeeded', 'failed', 'cancelled') "
         "THEN coalesce(images, 0) ELSE n END), 0) FROM jobs "
         "WHERE user_id = ? AND created_at >= ? AND NOT demo")


class CapReached(GrantError):
    """The images asked for would pass the user's daily cap."""


@dataclass(frozen=True)
class CapUse:
    """One user's cap and what today has used of it."""

    username: str
    daily_images: int
    used_today: int
    set_by: str

    @property
    def left(self) -> int:
        """Images that may still be asked for today."""
        return max(0, self.daily_images - self.used_today)


def day_start(now: datetime) -> datetime:
    """Midnight UTC of ``now``'s day (naive UTC, as the job table stores times)."""
    return datetime.combine(now.date(), time())


def cap_of(db: Database, username: str) -> int | None:
    """The user's daily cap, or None when they have none."""
    found = db.fetchone("SELECT daily_images FROM image_caps WHERE username = ?", [username])
    return None if found is None else int(found[0])


def used_today(db: Database, username: str, now: datetime) -> int:
    """Images the user asked for today (see the module docstring)."""
    return int(db.scalar(_USED, [username, day_start(now)]) or 0)


def uses(db: Database, now: datetime) -> list[CapUse]:
    """Every capped user with today's use, by username (Analytics and Admin → Access)."""
    rows = db.fetchall("SELECT username, daily_images, set_by FROM image_caps "
                       "ORDER BY username")
    return [CapUse(u, int(cap), used_today(db, u, now), by) for u, cap, by in rows]


def set_cap(db: Database, who: str, username: str, daily: int | None, now: datetime) -> None:
    """Set (``None``: remove) a user's daily cap; GrantError for a user who does not exist
    or a cap outside 0 to ``MAX_CAP`` (0 stops the user generating)."""
    if db.fetchone("SELECT 1 FROM users WHERE username = ?", [username]) is None:
        raise GrantError(f"There is no user {username!r}.")
    if daily is not None and (type(daily) is not int or not 0 <= daily <= MAX_CAP):
        raise GrantError(f"A daily cap is a whole number of images from 0 to {MAX_CAP:,}.")
    with db.write() as cur:
        cur.execute("DELETE FROM image_caps WHERE username = ?", [username])
        record(cur, Action.DAILY_CAP, username, {"daily_images": daily}, at=now, actor=who)
        if daily is not None:
            cur.execute("INSERT INTO image_caps (username, daily_images, set_by, set_at) "
                        "VALUES (?, ?, ?, ?)", [username, daily, who, now])


def check(cur: Cursor, username: str, adding: int, now: datetime) -> None:
    """Raise CapReached when ``adding`` more images today would pass the user's cap (call
    under the write lock that inserts the jobs)."""
    found = cur.execute("SELECT daily_images FROM image_caps WHERE username = ?",
                        [username]).fetchone()
    if found is None:
        return
    cap = int(found[0])
    row = cur.execute(_USED, [username, day_start(now)]).fetchone()
    used = int(row[0] if row else 0)
    if used + adding > cap:
        left = max(0, cap - used)
        raise CapReached(
            f"Your daily cap is {cap:,} image{'s' * (cap != 1)} and {used:,} "
            f"{'has' if used == 1 else 'have'} been asked for today, so {adding:,} more "
            f"would pass it ({left:,} left). Ask for fewer, wait until midnight UTC, or ask "
            "an admin to raise it on Admin → Access.")
