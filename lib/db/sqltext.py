"""SQL text written once for both backends, made PostgreSQL's where the two differ.

Queries in ``lib/`` use ``?`` placeholders (DuckDB's, and the DB-API's qmark style).
PostgreSQL's server-side binding (psycopg's ``RawCursor``) takes ``$1, $2, …``: :func:`numbered`
rewrites one to the other, skipping what is not a placeholder: string literals (``'it''s?'``),
quoted names (``"why?"``), ``-- comments?`` and ``/* comments? */``. The result is cached per
text, so a hot statement pays one dict lookup. ``$n`` is kept rather than psycopg's ``%s``
so that a literal ``%`` (``LIKE 'demo-%'``) needs no escaping.

:func:`ddl` maps the two type names the shipped migrations spell DuckDB's way (``DOUBLE``,
``BLOB``) to PostgreSQL's; DuckDB accepts both spellings as the same types, so new migrations
write ``DOUBLE PRECISION`` and ``BYTEA`` and need no mapping.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

_DDL_TYPES = ((re.compile(r"\bDOUBLE\b(?!\s+PRECISION)", re.I), "DOUBLE PRECISION"),
              (re.compile(r"\bBLOB\b", re.I), "BYTEA"))
_DDL_HEADS = ("CREATE", "ALTER")


@functools.lru_cache(maxsize=4096)
def numbered(sql: str) -> str:
    """``sql`` with each ``?`` placeholder as ``$1, $2, …`` in order (see the module's note)."""
    return _placeholders(sql, lambda n: f"${n}")


@functools.lru_cache(maxsize=256)
def pyformat(sql: str) -> str:
    """``sql`` for psycopg's client-side binding (COPY, server-side cursors): each ``?``
    placeholder as ``%s``, and every literal ``%`` doubled."""
    return _placeholders(sql.replace("%", "%%"), lambda n: "%s")


def _placeholders(sql: str, mark: Callable[[int], str]) -> str:
    out: list[str] = []
    n = 0
    i, end = 0, len(sql)
    while i < end:
        c = sql[i]
        if c in "'\"":  # a literal or a quoted name; a doubled quote stays inside it
            j = i + 1
            while j < end:
                if sql[j] == c:
                    if j + 1 < end and sql[j + 1] == c:
                        j += 2
                        continue
                    break
                j += 1
            out.append(sql[i:j + 1])
            i = j + 1
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            j = end if j < 0 else j
            out.append(sql[i:j])
            i = j
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            j = end if j < 0 else j + 2
            out.append(sql[i:j])
            i = j
        elif c == "?":
            n += 1
            out.append(mark(n))
            i += 1
        else:
            j = i + 1
            while j < end and sql[j] not in "'\"-/?":
                j += 1
            out.append(sql[i:j])
            i = j
    return "".join(out)


def ddl(sql: str) -> str:
    """A CREATE/ALTER statement with DuckDB's type spellings as PostgreSQL's; else as is."""
    if not sql.lstrip().upper().startswith(_DDL_HEADS) and "CREATE TABLE" not in sql.upper():
        return sql
    for pattern, name in _DDL_TYPES:
        sql = pattern.sub(name, sql)
    return sql
