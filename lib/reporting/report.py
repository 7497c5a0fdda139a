"""What leaves the dashboard: the ledger as CSV or Parquet, and ``python -m lib.cli report``.

:func:`export` writes the Analytics page's ledger (the page's downloads use it). The
``report`` subcommand prints the page's numbers for a period, from a shell:

    python -m lib.cli report --from 2026-11-01 --to 2026-11-30 [--by user|provider|model|day|tag]
        [--format csv|json|parquet] [--out FILE]
        [--user NAME ...] [--provider ID ...] [--model ID ...] [--status S ...] [--no-demo]

Without ``--by`` it prints one row for the whole period (the page's figures at a glance);
with it, one row per group, dearest first (days in order; days without jobs are left
out). Every number comes from :func:`lib.reporting.analytics.breakdown`, the query behind the page,
over everyone's jobs (the shell has the database file, so it sees what an admin sees).
CSV and JSON go to stdout unless ``--out`` names a file; Parquet needs ``--out``. Exit
codes: 0 done, 2 a usage error (bad dates, Parquet without a file), explained on stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import IO, Any

import pandas as pd

from lib.auth.access import Viewer
from lib.core import csvsafe
from lib.core.errors import PromptboardError
from lib.db.database import Database
from lib.reporting import analytics, ledger
from lib.reporting import tags as tag_spend

EXIT_USAGE = 2
FORMATS = ("csv", "json", "parquet")  # of the report
LEDGER_FORMATS = ("csv", "parquet")  # of the ledger export
BYS = sorted([*analytics.GROUPS, tag_spend.BY])  # tag: spend by tag (lib/reporting/tags.py)
CLI_VIEWER = Viewer("cli", "admin")


class ReportError(PromptboardError, ValueError):
    """The request cannot be answered as asked; the message says why."""


def day(value: str) -> date:
    """An argparse type: a UTC day as YYYY-MM-DD."""
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"dates look like 2026-11-30 (YYYY-MM-DD, UTC), not {value!r}") from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``report`` subcommand's options."""
    p.add_argument("--from", dest="start", type=day, required=True, metavar="YYYY-MM-DD",
                   help="first UTC day")
    p.add_argument("--to", dest="end", type=day, required=True, metavar="YYYY-MM-DD",
                   help="last UTC day (included)")
    p.add_argument("--by", choices=BYS,
                   help="one row per group instead of one for the period")
    p.add_argument("--format", dest="fmt", choices=FORMATS, default="csv")
    p.add_argument("--out", type=Path, help="write to this file (required for parquet)")
    p.add_argument("--user", dest="users", action="append", default=[], metavar="NAME")
    p.add_argument("--provider", dest="providers", action="append", default=[], metavar="ID")
    p.add_argument("--model", dest="models", action="append", default=[], metavar="ID")
    p.add_argument("--status", dest="statuses", action="append", default=[],
                   choices=analytics.STATUSES)
    p.add_argument("--no-demo", dest="include_demo", action="store_false",
                   help="leave out synthetic demo history")


def filters(args: argparse.Namespace) -> analytics.Filters:
    """The page's filters for these options; ReportError when they make no sense."""
    try:
        return analytics.Filters(
            start=args.start, end=args.end, users=args.users, providers=args.providers,
            models=args.models, statuses=args.statuses, include_demo=args.include_demo)
    except ValueError as exc:
        raise ReportError(str(exc)) from None


def check(args: argparse.Namespace) -> analytics.Filters:
    """The checks made before any work (here or over the API): Parquet needs ``--out``, and
    the dates and filters must make sense; ReportError says what is wrong."""
    if args.fmt == "parquet" and args.out is None:
        raise ReportError("--format parquet writes a binary file: add --out FILE.")
    return filters(args)


def table(db: Database, args: argparse.Namespace, viewer: Viewer = CLI_VIEWER) -> pd.DataFrame:
    """The report's rows: the period's figures, or one row per ``--by`` group, as ``viewer``
    may see them (the CLI on the server's own disk sees everything; the API, its caller's)."""
    f = filters(args)
    if args.by == tag_spend.BY:  # images by their tags: its own columns
        return tag_spend.spend_by_tag(db, viewer, f)
    df = analytics.breakdown(db, viewer, f, args.by)
    if args.by is None:
        df.insert(0, "from", f.start)
        df.insert(1, "to", f.end)
    return df


def export(db: Database, viewer: Viewer, f: analytics.Filters, fmt: str,
           path_or_buffer: str | Path | IO[bytes]) -> int:
    """Write the viewer's whole ledger for ``f``, oldest first, as CSV or Parquet by the
    database's COPY (streamed, never all in pandas); returns the row count. A buffer gets the file's
    bytes copied in (through a temporary file)."""
    if fmt not in LEDGER_FORMATS:
        raise ValueError(f"Export format is csv or parquet, not {fmt!r}.")
    sql, params = ledger.ledger_sql(analytics.scope(viewer, f), csv=fmt == "csv")
    ordered = f"{sql} ORDER BY time, job_id, i.idx"
    if isinstance(path_or_buffer, str | Path):
        return db.copy_out(ordered, params, Path(path_or_buffer), fmt)
    with tempfile.TemporaryDirectory(prefix="promptboard-export-") as tmp:
        path = Path(tmp) / f"ledger.{fmt}"
        rows = db.copy_out(ordered, params, path, fmt)
        with path.open("rb") as fh:
            shutil.copyfileobj(fh, path_or_buffer)
    return rows


def _json_value(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, date | pd.Timestamp):
        return v.isoformat()[:10]
    return v.item() if hasattr(v, "item") else v


def write(df: pd.DataFrame, args: argparse.Namespace, out: IO[str]) -> None:
    """Write the rows in the chosen format to ``--out`` or ``out``."""
    if args.fmt == "parquet":
        if args.out is None:
            raise ReportError("--format parquet writes a binary file: add --out FILE.")
        df.to_parquet(args.out, index=False)
        return
    if args.fmt == "csv":
        text = csvsafe.frame(df).to_csv(index=False, lineterminator="\n")
    else:
        rows = [{k: _json_value(v) for k, v in r.items()} for r in df.to_dict("records")]
        doc = {"from": args.start.isoformat(), "to": args.end.isoformat(), "by": args.by,
               "rows": rows}
        text = json.dumps(doc, indent=2) + "\n"
    if args.out is None:
        out.write(text)
    else:
        args.out.write_text(text, encoding="utf-8")


def run(engine_or_db: Any, args: argparse.Namespace, out: IO[str] | None = None,
        err: IO[str] | None = None) -> int:
    """Answer one ``report`` command; returns the exit code. Takes an Engine or a Database
    (the caller opens it, and reports DatabaseLocked)."""
    out, err = out or sys.stdout, err or sys.stderr
    db: Database = getattr(engine_or_db, "db", engine_or_db)
    try:
        check(args)  # before any work
        df = table(db, args)
        write(df, args, out)
    except ReportError as exc:
        print(f"promptboard report: {exc}", file=err)
        return EXIT_USAGE
    if args.out is not None:
        print(json.dumps({"status": "ok", "out": str(args.out), "format": args.fmt,
                          "rows": len(df)}), file=out)
    return 0
