"""Spend by tag: what the images carrying each tag cost, over the Analytics filters.

The images counted are those of the jobs in scope (the rules of :mod:`lib.reporting.analytics`:
a job's images belong to the UTC day the job was created; a member sees only their own), each
at its own ``images.cost_usd``. An image with two tags counts in both rows, so the rows add up
to more than the spend when images carry several tags; images without a tag are one row of
their own (``tag`` is null). Deleted images are gone with their tags: their cost stays in the
ledger and the totals, not here. Tags: :mod:`lib.gallery.tagnames`.
"""

from __future__ import annotations

import pandas as pd

from lib.auth.access import Viewer
from lib.db.database import Database
from lib.reporting.filters import Filters, images_where, jobs_where, scope

BY = "tag"  # the report's --by value


def spend_by_tag(db: Database, viewer: Viewer, f: Filters) -> pd.DataFrame:
    """One row per tag (and one, ``tag`` null, for untagged images): ``images``,
    ``spend_usd`` (a decimal sum of the priced ones) and ``unpriced_images``; dearest first,
    then by tag (untagged last among equals)."""
    f = scope(viewer, f)
    iwhere, iparams = images_where(f)
    jwhere, jparams = jobs_where(f)
    return db.df(f"""
        WITH s AS (SELECT i.id, i.cost_usd FROM images i JOIN jobs j ON j.id = i.job_id
                   WHERE {iwhere} AND {jwhere})
        SELECT t.tag AS tag, count(*)::BIGINT AS images,
               coalesce(sum(s.cost_usd), 0)::DECIMAL(18, 8) AS spend_usd,
               count(*) FILTER (WHERE s.cost_usd IS NULL)::BIGINT AS unpriced_images
        FROM s LEFT JOIN image_tags t ON t.image_id = s.id
        GROUP BY t.tag ORDER BY spend_usd DESC, t.tag NULLS LAST""", [*iparams, *jparams])
