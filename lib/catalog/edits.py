"""Admin → Models as data: the table an admin edits, and applying what changed.

:func:`table` gives the editable rows of one provider; :func:`apply` takes the edited rows
back, finds what changed and writes it through ``store.update`` (a new default first, so
moving the default from one model to another is one edit), returning a sentence per row it
could not take. Nothing here imports Streamlit: the page is ``lib/ui/models_admin.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pandas as pd

from lib.catalog import caps, store
from lib.db.database import Database
from lib.providers.types import GENERIC

COLUMNS = ("model", "offered", "default", "shutdown", "replacement", "state", "takes",
           "origin", "source")
EDITABLE = ("offered", "default", "shutdown", "replacement")


@dataclass(frozen=True)
class Change:
    """What an admin set on one model."""

    model: str
    enabled: bool
    is_default: bool
    shutdown: date | None
    replacement: str


def state(row: store.ModelRow, today: date) -> str:
    """A word or two on where the model stands today."""
    if row.shutdown is not None and today >= row.shutdown:
        return f"shut down {row.shutdown.isoformat()}"
    if row.shutdown is not None:
        return f"shuts down {row.shutdown.isoformat()}"
    if not row.enabled:
        return "not offered"
    return "deprecated" if row.deprecated else "live"


def table(rows: Sequence[store.ModelRow], today: date) -> pd.DataFrame:
    """One provider's rows as the editor shows them."""
    return pd.DataFrame([{
        "model": r.model, "offered": r.enabled, "default": r.is_default,
        "shutdown": r.shutdown, "replacement": r.replacement, "state": state(r, today),
        "takes": caps.takes(r),
        "origin": ("enabled from a model check: generic settings" if r.origin == GENERIC
                   else "shipped" if r.edited_by is None else f"edited by {r.edited_by}"),
        "source": r.source,
    } for r in rows], columns=list(COLUMNS))


def _day(value: Any) -> date | None:
    if value is None or value is pd.NaT or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    return date.fromisoformat(text[:10]) if text else None


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def changes(before: Sequence[store.ModelRow],
            edited: Sequence[Mapping[Any, Any]]) -> list[Change]:
    """The rows whose editable fields differ from ``before`` (matched by model id)."""
    old = {r.model: r for r in before}
    out = []
    for e in edited:
        r = old.get(_text(e.get("model")))
        if r is None:
            continue
        c = Change(r.model, bool(e.get("offered")), bool(e.get("default")),
                   _day(e.get("shutdown")), _text(e.get("replacement")).strip())
        if (c.enabled, c.is_default, c.shutdown, c.replacement) != (
                r.enabled, r.is_default, r.shutdown, r.replacement):
            out.append(c)
    return out


def apply(db: Database, who: str, provider: str, found: Sequence[Change],
          now: datetime) -> list[str]:
    """Write ``found`` (a new default first); return what could not be taken, one sentence
    per model. Each row is its own write: one refusal keeps the others."""
    problems = []
    for c in sorted(found, key=lambda c: not c.is_default):
        try:
            store.update(db, who, provider, c.model, enabled=c.enabled,
                         is_default=c.is_default, shutdown=c.shutdown,
                         replacement=c.replacement, now=now)
        except store.CatalogError as exc:
            problems.append(f"{c.model}: {exc}")
    return problems
