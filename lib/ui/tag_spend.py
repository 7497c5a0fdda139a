"""The Analytics page's "Spend by tag": a table of what the images carrying each tag cost.

The figures are ``lib.reporting.tags.spend_by_tag``'s, over the page's filters and scope (a
member: their own images). Tags are typed by people: the table shows them as text, and its
"Download as CSV" carries no live formula (``csvsafe``).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from lib.auth.access import Viewer
from lib.core import csvsafe
from lib.engine import Engine
from lib.reporting.filters import Filters
from lib.reporting.tags import spend_by_tag
from lib.ui.display import money

UNTAGGED = "(no tag)"
CAPTION = ("What the images of the period cost, by tag. An image with two tags counts in both "
           "rows, so the rows add up to more than the spend when images carry several tags; "
           f"images without a tag are the row {UNTAGGED}. Deleted images are not here (their "
           "cost stays in the totals and the ledger).")


@st.cache_data(max_entries=32, show_spinner=False)
def _rows(_eng: Engine, db_label: str, version: tuple[int, ...], viewer: Viewer,
          f: Filters) -> pd.DataFrame:
    return spend_by_tag(_eng.db, viewer, f)


def section(eng: Engine, viewer: Viewer, f: Filters) -> None:
    """The subheader, the table (dearest tag first) and what it counts."""
    st.subheader("Spend by tag")
    version = eng.db.tables_version("jobs", "images", "image_tags")
    df = _rows(eng, eng.db.label, version, viewer, f)
    if df.empty:
        st.caption("No images in this period for these filters.")
        return
    shown = df.assign(tag=df["tag"].fillna(UNTAGGED), spend_usd=df["spend_usd"].map(money))
    st.dataframe(csvsafe.frame(shown), hide_index=True, width="stretch", key="an-tags",
                 column_config={"tag": "Tag", "images": "Images", "spend_usd": "Spend",
                                "unpriced_images": "Unpriced images"})
    st.caption(CAPTION)
