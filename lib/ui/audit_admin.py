"""Admin → Audit: the audit log, filtered by actor, action, dates and text, newest first, with
the filtered rows as a CSV download. Read-only: the page has no control that edits or deletes
a row (the retention setting prunes old ones at start)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import streamlit as st

from lib import audit
from lib.auth import accounts as auth
from lib.auth.accounts import User
from lib.core import csvsafe
from lib.core.fmt import plural
from lib.engine import Engine

SHOWN = 500  # rows the table shows; the download has every filtered row (up to CSV_LIMIT)
ALL = "All"


def _day_bounds(picked: object) -> tuple[datetime | None, datetime | None]:
    """A date_input's value (one day, a range, or nothing) as [since, until) in naive UTC."""
    days = [d for d in (picked if isinstance(picked, tuple | list) else (picked,))
            if isinstance(d, date)]
    if not days:
        return None, None
    first, last = min(days), max(days)
    return (datetime.combine(first, time.min),
            datetime.combine(last, time.min) + timedelta(days=1))


def filters(eng: Engine) -> audit.Filter:
    """The filter row; its values as an :class:`audit.Filter`."""
    row = st.columns([2, 2, 3, 3])
    actor = row[0].selectbox("Actor", [ALL, *audit.actors(eng.db)], key="audit_actor")
    action = row[1].selectbox("Action", [ALL, *(a.value for a in audit.Action)],
                              key="audit_action")
    picked = row[2].date_input("Dates (UTC)", value=[], key="audit_dates",
                               help="One day, or a first and last day.")
    text = row[3].text_input("Text", key="audit_text", max_chars=200,
                             placeholder="a username, an image id, a model…")
    since, until = _day_bounds(picked)
    return audit.Filter(actor="" if actor == ALL else str(actor),
                        action="" if action == ALL else str(action),
                        since=since, until=until, text=text)


def audit_section(eng: Engine, me: User) -> None:
    """The whole tab: admins only (the screen checks the page; this checks again)."""
    try:
        auth.require(me, "admin")
    except auth.PermissionDenied as exc:
        st.error(str(exc), icon=":material/block:")
        return
    st.caption("Every sign-in (and failed one), sign-out, user, role, token, share, delete, "
               "price, budget, model and webhook change: who, when, what, and through which "
               "session or token. Nothing here can be edited or deleted; rows older than "
               f"{eng.settings.audit_retention_days or '∞'} days are pruned "
               "(PROMPTBOARD_AUDIT_RETENTION_DAYS).")
    f = filters(eng)
    rows = audit.search(eng.db, f, limit=audit.CSV_LIMIT)
    st.download_button("Download CSV", audit.to_csv(rows).encode(), key="audit_csv",
                       file_name="promptboard-audit.csv", mime="text/csv",
                       icon=":material/download:", on_click="ignore",
                       disabled=not rows)
    if not rows:
        st.info("No audit rows match.", icon=":material/info:")
        return
    st.caption(f"{plural(len(rows), 'row')}, newest first"
               + (f"; the first {SHOWN} shown" if len(rows) > SHOWN else "") + ".")
    st.dataframe(csvsafe.rows([{"When (UTC)": e.at, "Actor": e.actor, "Action": e.action,
                                "Target": e.target, "Detail": e.detail, "Via": e.via}
                               for e in rows[:SHOWN]]),
                 hide_index=True, width="stretch")
