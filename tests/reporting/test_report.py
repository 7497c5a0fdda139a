"""Exports and the ``report`` command: the ledger round-trips, the CLI tells the page's numbers.

Fixtures are those of ``tests/reporting/test_analytics.py`` (November 2026: 7 jobs, 7 images, spend
0.249; the ledger has 10 rows: 7 images and 3 jobs without one).
"""

from __future__ import annotations

import argparse
import io
import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from lib.core import config
from lib.db.database import Database
from lib.engine import Engine
from lib.reporting import analytics as a
from lib.reporting import report
from tests.builders import ADMIN, BOB, NOV, add_history, add_job
from tests.helpers import run_cli


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="report")
    report.add_arguments(p)
    return p


def _report(engine: Engine | Database, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = report.run(engine, _parser().parse_args(list(argv)), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_exports_round_trip_and_add_up_to_the_summary(db: Database, tmp_path: Path,
                                                      fmt: str) -> None:
    path = tmp_path / f"ledger.{fmt}"
    assert report.export(db, ADMIN, NOV, fmt, path) == 10
    reader = "read_csv" if fmt == "csv" else "read_parquet"
    total, images, rows = duckdb.connect().execute(
        f"SELECT sum(cost_usd)::DECIMAL(18, 8), count(image_id), count(*) "
        f"FROM {reader}('{path}')").fetchone()
    s = a.summary(db, ADMIN, NOV).current
    assert (total, images, rows) == (s.spend_usd, s.images, 10)
    buf = io.BytesIO()
    report.export(db, ADMIN, NOV, fmt, buf)
    if fmt == "csv":
        assert buf.getvalue() == path.read_bytes()
    back = pd.read_csv(io.BytesIO(buf.getvalue())) if fmt == "csv" else pd.read_parquet(buf)
    assert list(back.columns[:12]) == ["time", "user", "provider", "model", "size", "quality",
                                       "style", "prompt", "cost_usd", "duration_s", "status",
                                       "request_id"]
    assert back["time"].astype(str).is_monotonic_increasing  # oldest first


def test_a_member_exports_only_their_own_rows(db: Database) -> None:
    buf = io.BytesIO()
    assert report.export(db, BOB, a.Filters(NOV.start, NOV.end, users=("alice",)), "csv", buf) == 3
    assert set(pd.read_csv(io.BytesIO(buf.getvalue()))["user"]) == {"bob"}


def test_csv_cells_that_look_like_formulas_are_defused(engine: Engine, tmp_path: Path) -> None:
    add_job(engine.db, "evil", "alice", prompt='=HYPERLINK("http://x","y")')
    report.export(engine.db, ADMIN, NOV, "csv", tmp_path / "l.csv")
    report.export(engine.db, ADMIN, NOV, "parquet", tmp_path / "l.parquet")
    assert pd.read_csv(tmp_path / "l.csv")["prompt"][0].startswith("'=HYPERLINK")
    assert pd.read_parquet(tmp_path / "l.parquet")["prompt"][0].startswith("=HYPERLINK")




def test_an_export_of_nothing_is_a_header_only(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "none.csv"
    assert report.export(engine.db, ADMIN, NOV, "csv", path) == 0
    assert path.read_text().splitlines()[0].startswith("time,user,provider,model")
    with pytest.raises(ValueError, match="csv or parquet"):
        report.export(engine.db, ADMIN, NOV, "xlsx", path)


def test_the_period_report_has_the_pages_figures(db: Database) -> None:
    code, out, err = _report(db, "--from", "2026-11-01", "--to", "2026-11-30")
    assert code == 0 and not err
    row = pd.read_csv(io.StringIO(out)).iloc[0]
    s = a.summary(db, ADMIN, NOV).current
    assert (row["from"], row["to"]) == ("2026-11-01", "2026-11-30")
    assert (row["jobs"], row["images"], row["unpriced_jobs"]) == (s.jobs, s.images, 1)
    assert Decimal(str(row["spend_usd"])) == s.spend_usd == Decimal("0.249")
    assert Decimal(str(row["cost_per_image_usd"])) == s.cost_per_image_usd
    assert (row["median_ms"], row["p95_ms"]) == (s.median_ms, s.p95_ms) == (2500, 3850)
    assert row["success_rate"] == pytest.approx(s.success_rate)


@pytest.mark.parametrize("by", ["provider", "model", "user", "day"])
def test_a_report_by_group_equals_the_pages_breakdown(db: Database, by: str) -> None:
    code, out, _ = _report(db, "--from", "2026-11-01", "--to", "2026-11-30",
                           "--by", by, "--format", "json")
    doc = json.loads(out)
    assert code == 0 and (doc["from"], doc["by"]) == ("2026-11-01", by)
    page = a.breakdown(db, ADMIN, NOV, by)
    assert len(doc["rows"]) == len(page)
    assert sum(r["spend_usd"] for r in doc["rows"]) == pytest.approx(0.249)
    assert sum(r["images"] for r in doc["rows"]) == 7
    for got, want in zip(doc["rows"], page.to_dict("records"), strict=True):
        assert got["spend_usd"] == pytest.approx(want["spend_usd"])
        assert got["jobs"] == want["jobs"]


def test_a_report_by_user_matches_top_users(db: Database) -> None:
    _, out, _ = _report(db, "--from", "2026-11-01", "--to", "2026-11-30", "--by", "user")
    rows = pd.read_csv(io.StringIO(out))
    top = a.top_users(db, ADMIN, NOV)
    assert rows["user"].tolist() == top["user"].tolist() == ["alice", "bob", "carol"]
    assert rows["spend_usd"].tolist() == pytest.approx(top["spend_usd"].tolist())


def test_report_filters_narrow_like_the_pages(db: Database) -> None:
    _, out, _ = _report(db, "--from", "2026-11-01", "--to", "2026-11-30",
                        "--user", "bob", "--status", "failed", "--format", "json")
    row = json.loads(out)["rows"][0]
    assert (row["jobs"], row["spend_usd"], row["images"]) == (2, 0.039, 0)


def test_a_parquet_report_needs_a_file_and_round_trips(db: Database, tmp_path: Path) -> None:
    code, out, err = _report(db, "--from", "2026-11-01", "--to", "2026-11-30",
                             "--format", "parquet")
    assert code == report.EXIT_USAGE and out == "" and "--out FILE" in err
    path = tmp_path / "by-model.parquet"
    code, out, _ = _report(db, "--from", "2026-11-01", "--to", "2026-11-30",
                           "--by", "model", "--format", "parquet", "--out", str(path))
    assert code == 0 and json.loads(out) == {"status": "ok", "out": str(path),
                                             "format": "parquet", "rows": 3}
    back = pd.read_parquet(path)
    assert back["spend_usd"].sum() == pytest.approx(0.249)
    assert back["model"].tolist() == ["gpt-image-2", "flash", "core"]  # dearest first


def test_csv_to_a_file_says_where_it_went(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    code, out, _ = _report(db, "--from", "2026-11-01", "--to", "2026-11-30",
                           "--by", "provider", "--out", str(path))
    assert code == 0 and json.loads(out)["rows"] == 3
    assert pd.read_csv(path)["provider"].tolist() == ["openai", "gemini", "stability"]


@pytest.mark.parametrize(("argv", "message"), [
    (["--from", "2026-11-31", "--to", "2026-12-01"], "dates look like 2026-11-30"),
    (["--from", "yesterday", "--to", "2026-12-01"], "dates look like 2026-11-30"),
    (["--from", "2026-11-01"], "required: --to"),
    (["--from", "2026-11-01", "--to", "2026-11-30", "--by", "colour"], "invalid choice"),
])
def test_bad_arguments_are_refused_by_the_parser(argv: list[str], message: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        _parser().parse_args(argv)
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_an_end_before_the_start_is_a_usage_error(db: Database) -> None:
    code, out, err = _report(db, "--from", "2026-11-30", "--to", "2026-11-01")
    assert code == report.EXIT_USAGE and out == ""
    assert "The end date 2026-11-01 is before the start date 2026-11-30" in err


def _cli_has_report() -> bool:
    from lib import cli

    return "report" in cli._parser().format_help()


@pytest.mark.skipif(not _cli_has_report(),
                    reason="lib/cli.py does not wire the report subcommand yet (the lead does)")
def test_the_cli_subcommand_prints_the_same_numbers(tmp_path: Path) -> None:
    eng = Engine(config.load())
    add_history(eng.db)
    eng.close()
    done = run_cli("report", "--from", "2026-11-01", "--to", "2026-11-30", "--by", "provider",
                   "--format", "json")
    assert done.returncode == 0, done.stderr
    rows = {r["provider"]: r["spend_usd"] for r in json.loads(done.stdout)["rows"]}
    assert rows == {"openai": pytest.approx(0.21), "gemini": pytest.approx(0.039),
                    "stability": 0.0}
    bad = run_cli("report", "--from", "2026-11-30", "--to", "2026-11-01")
    assert bad.returncode == 2 and "before the start date" in bad.stderr
