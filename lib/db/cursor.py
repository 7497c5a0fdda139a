"""What a query module may do with a cursor, on either backend (DuckDB or PostgreSQL).

``db.write()`` and ``db.cursor()`` yield one; migrations take one. ``execute`` returns the
cursor itself, so ``cur.execute(sql, params).fetchall()`` reads as on DuckDB. SQL is written
with ``?`` placeholders; the PostgreSQL backend translates them (``lib/db/sqltext.py``).
"""

from __future__ import annotations

from typing import Any, Protocol


class Cursor(Protocol):
    """The DB-API subset the code base uses."""

    def execute(self, sql: str, params: Any = None, /) -> Cursor: ...

    def executemany(self, sql: str, params: Any, /) -> Cursor: ...

    def fetchone(self) -> tuple[Any, ...] | None: ...

    def fetchall(self) -> list[tuple[Any, ...]]: ...

    def fetchmany(self, size: int, /) -> list[tuple[Any, ...]]: ...

    @property
    def description(self) -> Any: ...

    @property
    def rowcount(self) -> int: ...
