"""Back up the embedded DuckDB file while the dashboard runs: ``python -m lib.cli backup``,
Admin → Storage → "Back up now", and ``POST /api/v1/admin/backup``.

DuckDB lets one process open the file, so a backup is made by the process that holds it (the
CLI goes through the server's API when the server runs). It is a new DuckDB file under
``data/backups/`` (or another folder), written by DuckDB's ``COPY FROM DATABASE`` under the
write lock: every table, row, index and sequence as of one moment; readers (pages, the API)
go on meanwhile and writers wait the few seconds it takes. It is written as ``*.partial``,
then opened and checked (every table's row count and the cost sums of jobs and images equal
to the source's at that moment, the same checks as ``db copy``) before it is renamed to its
final name, so a file named ``promptboard-*.duckdb`` in that folder is a checked one.

To restore: stop the dashboard, move the current ``data/promptboard.duckdb`` aside, copy the
backup in its place (mode 0600), start. PostgreSQL is backed up with ``pg_dump`` (README).
Images are not in the database: back up ``data/images/`` or the bucket after the database.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from lib.core.errors import PromptboardError
from lib.core.fsperm import private_dir, private_file
from lib.db import transfer
from lib.db.database import Database

PREFIX = "promptboard-"


class BackupError(PromptboardError, RuntimeError):
    """The backup was refused or did not verify; the message says what to do."""


@dataclass(frozen=True)
class Backup:
    """A checked backup file, and what it holds."""

    path: Path
    bytes: int
    rows: dict[str, int]
    sums: dict[str, Decimal]
    took_s: float


def folder(data_dir: Path) -> Path:
    """Where backups go unless told otherwise."""
    return data_dir / "backups"


def backup(db: Database, into: Path, now: datetime) -> Backup:
    """Write and check a backup of ``db`` in the folder ``into``; see the module's notes."""
    if db.kind != "duckdb":
        raise BackupError("This Promptboard keeps its data in PostgreSQL: back it up with "
                          "pg_dump while it runs (README, Scaling out → Backups).")
    started = time.monotonic()
    try:
        private_dir(into)
    except OSError as exc:
        raise BackupError(f"The backup folder {into} cannot be used ({exc.strerror}). "
                          "Choose another, or free it.") from None
    final = into / f"{PREFIX}{now:%Y%m%d-%H%M%S}.duckdb"
    if final.exists():
        raise BackupError(f"{final.name} already exists: a backup was made this second. "
                          "Try again in a moment.")
    partial = final.with_name(final.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        with db.exclusive():  # no write commits between the copy and the counts it is checked by
            db.backup_to(partial)
            rows, money = transfer.counts(db), transfer.sums(db)
        private_file(partial)
        _check(partial, rows, money)
        os.replace(partial, final)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"The backup could not be written to {into} ({exc.strerror or exc}). "
                          "Check free disk space there, then try again.") from None
    except Exception as exc:
        partial.unlink(missing_ok=True)
        if isinstance(exc, BackupError):
            raise
        raise BackupError(f"The backup failed ({type(exc).__name__}: {exc}); nothing was "
                          "kept. Check free disk space, then try again.") from None
    return Backup(final, final.stat().st_size, rows, money, time.monotonic() - started)


def _check(path: Path, rows: dict[str, int], money: dict[str, Decimal]) -> None:
    copy = Database(path, migrate=False)
    try:
        theirs, sums = transfer.counts(copy), transfer.sums(copy)
    finally:
        copy.close()
    wrong = [f"{t} ({rows[t]:,} → {theirs.get(t, 0):,})" for t in rows
             if rows[t] != theirs.get(t, 0)]
    wrong += [f"{k} ({money[k]} → {sums[k]})" for k in money if money[k] != sums[k]]
    if wrong:
        raise BackupError("The backup does not match the database: " + "; ".join(wrong) +
                          ". Nothing was kept; try again.")


def list_backups(into: Path) -> list[tuple[Path, int]]:
    """The checked backups in ``into`` (path, bytes), newest first."""
    if not into.is_dir():
        return []
    found = [(p, p.stat().st_size) for p in into.glob(f"{PREFIX}*.duckdb")]
    return sorted(found, key=lambda f: f[0].name, reverse=True)
