"""Quality per dollar: ratings, cost and duration by provider/model (or by style), in DuckDB.

The rules, in one place so the page and the tests agree:

- The images counted are those the viewer may see in the Gallery
  (:func:`lib.gallery.queries.visible_where`): admins and analysts every image, a member their own
  and those shared with the team. A member never sees figures from another user's private
  images, neither their cost nor their ratings.
- An image belongs to the UTC day it was stored; the period is ``start``..``end`` inclusive.
- ``ratings`` is how many 1-5 star ratings the group's images got (one per user and image);
  ``avg_rating`` is their mean (each rating counts once); ``images_rated`` how many images
  have at least one.
- ``cost_per_image_usd`` is the mean cost of the group's *priced* images (``priced_images``
  of them); an image with no price is left out, never counted as free.
- ``median_ms`` is the median of the images' durations.
- ``rating_per_usd`` = ``avg_rating / cost_per_image_usd``: stars per dollar spent per image.
  It is undefined (NULL, with a note) for free models (the sandbox, local servers), for
  groups whose cost is unknown, and for groups without ratings. Never infinity.
- A group with fewer than ``THIN_SAMPLE`` ratings is flagged ``thin``: its average says little.

Order: rating per dollar (best first), then average rating, then images. Errors:
``ValueError`` with a message for a person (an end before the start, an unknown grouping or
role).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import pandas as pd

from lib.auth.access import ROLES, Viewer
from lib.db.database import Database
from lib.gallery.queries import visible_where

THIN_SAMPLE = 5
GROUPINGS: dict[str, tuple[str, ...]] = {
    "model": ("i.provider AS provider", "i.model AS model"),
    "provider": ("i.provider AS provider",),
    "style": ("coalesce(i.style, 'none') AS style",),
}
COLUMNS = ("images", "images_rated", "ratings", "avg_rating", "priced_images",
           "cost_per_image_usd", "median_ms", "rating_per_usd", "thin", "note")


@dataclass(frozen=True)
class BoardFilter:
    """What the leaderboard covers; empty tuples mean "all"."""

    start: date
    end: date
    by: str = "model"  # model (provider and model), provider or style
    roles: tuple[str, ...] = ()  # the image owners' current roles
    users: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    include_demo: bool = True

    def __post_init__(self) -> None:
        """Lists become tuples; a bad period, grouping or role is refused."""
        for name in ("roles", "users", "providers", "models"):
            object.__setattr__(self, name, tuple(getattr(self, name) or ()))
        if self.end < self.start:
            raise ValueError(f"The end date {self.end} is before the start date {self.start}.")
        if self.by not in GROUPINGS:
            raise ValueError(f"Group by one of {', '.join(GROUPINGS)}, not {self.by!r}.")
        unknown = sorted(set(self.roles) - set(ROLES))
        if unknown:
            raise ValueError(f"Unknown role {unknown[0]!r}; expected {', '.join(ROLES)}.")


def _where(viewer: Viewer, f: BoardFilter) -> tuple[str, list[Any]]:
    """Visibility AND the filters over images ``i``, with parameters."""
    vis, params = visible_where(viewer)
    parts = [vis, "i.created_at >= ?", "i.created_at < ?"]
    params += [datetime.combine(f.start, time.min),
               datetime.combine(f.end + timedelta(days=1), time.min)]
    for col, values in (("i.user_id", f.users), ("i.provider", f.providers),
                        ("i.model", f.models)):
        if values:
            parts.append(f"{col} IN ({', '.join('?' * len(values))})")
            params.extend(values)
    if f.roles:
        parts.append(f"i.user_id IN (SELECT username FROM users WHERE role IN "
                     f"({', '.join('?' * len(f.roles))}))")
        params.extend(f.roles)
    if not f.include_demo:
        parts.append("NOT i.demo")
    return " AND ".join(parts), params


def board(db: Database, viewer: Viewer, f: BoardFilter) -> pd.DataFrame:
    """One row per group with the figures above, best rating per dollar first."""
    where, params = _where(viewer, f)
    keys = GROUPINGS[f.by]
    names = ", ".join(k.rsplit(" AS ", 1)[1] for k in keys)
    sql = f"""
        WITH img AS (
            SELECT i.id, {", ".join(keys)}, i.cost_usd::float8 AS cost, i.duration_ms
            FROM images i WHERE {where}),
        rt AS (
            SELECT image_id, count(*) AS n, sum(rating) AS stars FROM image_ratings
            WHERE image_id IN (SELECT id FROM img) GROUP BY image_id),
        g AS (
            SELECT {names}, count(*) AS images, count(rt.image_id) AS images_rated,
                   coalesce(sum(rt.n), 0)::BIGINT AS ratings,
                   sum(rt.stars)::float8 / nullif(sum(rt.n), 0) AS avg_rating,
                   count(img.cost) AS priced_images, avg(img.cost) AS cost_per_image_usd,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY img.duration_ms) AS median_ms
            FROM img LEFT JOIN rt ON rt.image_id = img.id GROUP BY {names})
        SELECT *,
               CASE WHEN cost_per_image_usd > 0 THEN avg_rating / cost_per_image_usd END
                   AS rating_per_usd,
               ratings < ? AS thin,
               concat_ws('; ',
                   CASE WHEN ratings = 0 THEN 'no ratings yet'
                        WHEN ratings < ? THEN 'thin sample: ' || ratings || ' rating(s)' END,
                   CASE WHEN priced_images = 0 THEN 'cost unknown: no priced images'
                        WHEN cost_per_image_usd = 0
                        THEN 'free: rating per dollar is undefined' END) AS note
        FROM g
        ORDER BY rating_per_usd DESC NULLS LAST, avg_rating DESC NULLS LAST, images DESC,
                 {names}"""
    df = db.df(sql, [*params, THIN_SAMPLE, THIN_SAMPLE])
    df["note"] = df["note"].fillna("")
    return df
