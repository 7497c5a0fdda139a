"""``python -m lib.cli`` beside the running dashboard: through its HTTP API (#14, item 6).

One real server (``streamlit run serve.py``) holds a data dir with November 2026's history
(tests.builders.add_history) and the accounts of tests/api/server.py. Before it starts, the
local CLI (its ``main``, in this process) writes the reports the remote ones must equal, byte for
byte. Every CLI beside the server is a subprocess with the environment a cron job would have:
only the PROMPTBOARD_* variables of our choosing.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from unittest import mock

import pandas as pd
import pytest
from PIL import Image

from lib.cli import main as cli_main
from lib.core import config
from lib.db import transfer
from lib.db.database import Database
from lib.engine import Engine
from tests.api.server import ApiServer, start
from tests.browser import harness as h
from tests.builders import add_history
from tests.helpers import ROOT, closed_port_url, json_lines, run_cli

pytestmark = pytest.mark.own_clock  # the server and the CLI read the real clock

PERIOD = ("--from", "2026-11-01", "--to", "2026-11-30")
REPORTS = {  # name -> options, each run locally before the server starts, then through it
    "period-csv": ("--format", "csv"),
    "by-user-csv": ("--by", "user", "--format", "csv"),
    "by-model-json": ("--by", "model", "--format", "json"),
    "by-day-csv-no-demo": ("--by", "day", "--no-demo"),
    "bob-failed-json": ("--user", "bob", "--status", "failed", "--format", "json"),
}
TERMINAL = ("succeeded", "failed", "cancelled")


@dataclass
class Served:
    """The server, and what the local CLI printed (``local``) and wrote (into ``files``)
    before it started."""

    api: ApiServer
    local: dict[str, bytes]
    files: Path

    @property
    def data(self) -> Path:
        return self.api.server.data_dir


def cli(data: Path, *args: str, cwd: Path = ROOT,
        **env: str) -> subprocess.CompletedProcess[bytes]:
    """``python -m lib.cli`` on ``data`` with a clean environment plus ``env`` (bytes out)."""
    full = h.clean_env(data, PROMPTBOARD_SANDBOX_LATENCY="0", PYTHONPATH=str(ROOT), **env)
    return subprocess.run([sys.executable, "-m", "lib.cli", *args], cwd=cwd, env=full,
                          capture_output=True, timeout=180)


def remote(s: Served, *args: str, token: str = "ann-read", cwd: Path = ROOT,
           **env: str) -> subprocess.CompletedProcess[bytes]:
    """The CLI as a cron job beside the server: PROMPTBOARD_URL and PROMPTBOARD_TOKEN set."""
    secret = s.api.tokens.get(token, token)
    return cli(s.data, *args, cwd=cwd, PROMPTBOARD_URL=s.api.server.base_url,
               PROMPTBOARD_TOKEN=secret, **env)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("cli-remote")
    local: dict[str, bytes] = {}
    files = tmp / "local"
    files.mkdir()

    def prepare(data: Path) -> None:
        env = {**h.clean_env(data), "PROMPTBOARD_SANDBOX_LATENCY": "0"}
        with mock.patch.dict(os.environ, env, clear=True):  # the CLI's main, in this process
            eng = Engine(config.load())
            try:
                add_history(eng.db)
            finally:
                eng.close()
            for name, options in REPORTS.items():
                out = io.StringIO()
                assert cli_main(["report", *PERIOD, *options], out) == 0
                local[name] = out.getvalue().encode()
            for fmt in ("csv", "parquet"):
                argv = ["report", *PERIOD, "--by", "user", "--format", fmt,
                        "--out", str(files / f"by-user.{fmt}")]
                assert cli_main(argv, io.StringIO()) == 0

    api = start(tmp, "cli", prepare_dir=prepare, PROMPTBOARD_SANDBOX_LATENCY="1.0")
    # the server opens the database on its first request; from then on it holds it
    assert api.call("GET", "/readyz").status == 200
    yield Served(api, local, files)
    api.server.stop()


def test_the_cron_report_while_the_server_runs_is_the_local_report(served: Served) -> None:
    for name, options in REPORTS.items():
        proc = remote(served, "report", *PERIOD, *options)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == served.local[name], name
        assert b"another process holds the database; going through the server" in proc.stderr
    rows = list(csv.DictReader(io.StringIO(served.local["by-user-csv"].decode())))
    assert [r["user"] for r in rows] == ["alice", "bob", "carol"]
    assert sum(float(r["spend_usd"]) for r in rows) == pytest.approx(0.249)


def test_the_readmes_cron_line_writes_the_same_file(served: Served, tmp_path: Path) -> None:
    out = tmp_path / "reports" / "2026-11.csv"
    out.parent.mkdir()
    proc = remote(served, "report", *PERIOD, "--by", "user", "--format", "csv",
                  "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"status": "ok", "out": str(out), "format": "csv",
                                       "rows": 3}
    assert out.read_bytes() == (served.files / "by-user.csv").read_bytes()
    parquet = tmp_path / "by-user.parquet"
    proc = remote(served, "report", *PERIOD, "--by", "user", "--format", "parquet",
                  "--out", str(parquet))
    assert proc.returncode == 0 and json.loads(proc.stdout)["rows"] == 3
    pd.testing.assert_frame_equal(pd.read_parquet(parquet),
                                  pd.read_parquet(served.files / "by-user.parquet"))


def test_the_readmes_cron_line_runs_in_sh_beside_the_server(served: Served,
                                                             tmp_path: Path) -> None:
    """The README's crontab line, as cron runs it (``\\%`` unescaped, ``sh -c``), with its
    paths and address pointed here: last month's report by user, written while the server
    holds the database."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    line = readme.split("```cron\n", 1)[1].split("```", 1)[0].strip()
    *schedule, command = line.split(None, 5)
    assert schedule == ["0", "6", "1", "*", "*"]
    token = tmp_path / "report.token"
    token.write_text(served.api.tokens["ann-read"] + "\n")
    token.chmod(0o600)
    command = command.replace("\\%", "%")  # what cron does with an escaped percent sign
    for old, new in (("cd /srv/promptboard", f"cd {ROOT}"),
                     ("http://localhost:8501", served.api.server.base_url),
                     ("/etc/promptboard/report.token", str(token)),
                     ("python3 -m", f"{sys.executable} -m"),
                     ("/srv/reports/", f"{tmp_path}/")):
        assert old in command
        command = command.replace(old, new)
    proc = subprocess.run(["sh", "-c", command], env=h.clean_env(served.data),
                          capture_output=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    last = date.today().replace(day=1) - timedelta(days=1)  # cron's day is the 1st
    written = tmp_path / f"{last:%Y-%m}.csv"
    assert json.loads(proc.stdout) == {"status": "ok", "out": str(written), "format": "csv",
                                       "rows": len(written.read_text().splitlines()) - 1}
    assert written.read_text().startswith("user,jobs,images,")


def test_report_usage_errors_over_the_api_are_the_local_ones(served: Served) -> None:
    for bad in (("--format", "parquet"), ("--from", "2026-12-01")):
        local = run_cli("report", *PERIOD, *bad)
        proc = remote(served, "report", *PERIOD, *bad)
        assert local.returncode == proc.returncode == 2
        assert proc.stdout == b""
        assert proc.stderr.decode().splitlines()[-1] == local.stderr.splitlines()[-1]


def test_a_member_s_report_over_the_api_covers_their_own_jobs(served: Served) -> None:
    proc = remote(served, "report", *PERIOD, "--format", "json", token="mia-read")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["rows"][0]["jobs"] == 0  # mia made none of November's


def test_generate_over_the_api_downloads_the_images(served: Served, tmp_path: Path) -> None:
    args = ("generate", "--prompt", "a red fox in snow", "--n", "2", "--size", "256x192",
            "--seed", "42")
    proc = remote(served, *args, token="mia", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = json_lines(proc.stdout.decode())
    assert len(lines) == 2 and lines[0]["job_id"] == lines[1]["job_id"]
    for i, line in enumerate(lines):
        assert (line["status"], line["provider"], line["error"]) == ("succeeded", "sandbox", None)
        assert (line["width"], line["height"], line["seed"]) == (256, 192, 42 + i)
        assert line["cost_usd"] == 0.0 and line["duration_ms"] >= 0
        assert line["storage_key"] == f"img/{line['job_id']}/{line['image_id']}.png"
        path = Path(line["path"])
        assert path.parent == tmp_path / "promptboard-images"  # the default --out-dir
        with Image.open(path) as png:
            assert (png.format, png.size) == ("PNG", (256, 192))
    job = served.api.call("GET", f"/api/v1/jobs/{lines[0]['job_id']}", "mia").json
    assert job["user"] == "mia"  # the token's owner
    local = run_cli(*args, "--out-dir", str(tmp_path / "local"))  # this test's free database
    assert local.returncode == 0, local.stderr
    first = json_lines(local.stdout)[0]
    assert list(first) == list(lines[0])  # the same keys, in the same order
    assert Path(first["path"]).parent == tmp_path / "local"
    with Image.open(first["path"]) as png:
        assert png.size == (256, 192)


def test_refused_and_failed_jobs_over_the_api_say_why(served: Served, tmp_path: Path) -> None:
    proc = remote(served, "generate", "--prompt", "   ", token="mia", cwd=tmp_path)
    assert proc.returncode == 1
    (line,) = json_lines(proc.stdout.decode())
    assert line == {"status": "refused",
                    "error": "The prompt is empty. Describe the image you want."}
    proc = remote(served, "generate", "--prompt", "[[fail:safety]] a fox", token="mia",
                  cwd=tmp_path)
    assert proc.returncode == 1
    (line,) = json_lines(proc.stdout.decode())
    assert line["status"] == "failed" and line["error_type"] == "safety"
    assert set(line) == {"job_id", "status", "error_type", "error"}


def test_work_until_idle_waits_for_the_server_s_queue(served: Served) -> None:
    ids = []
    for _ in range(4):
        r = served.api.call("POST", "/api/v1/jobs", "max", json={"prompt": "a boat", "n": 8})
        assert r.status == 202, r.content
        ids.append(r.json["jobs"][0]["id"])

    def status(job_id: str) -> str:
        return str(served.api.call("GET", f"/api/v1/jobs/{job_id}", "max").json["status"])

    assert any(status(j) not in TERMINAL for j in ids)  # 2.75 s each, two workers
    proc = remote(served, "work", "--until-idle", token="automation")
    assert proc.returncode == 0, proc.stderr
    assert json_lines(proc.stdout.decode()) == [{"status": "idle"}]
    assert [status(j) for j in ids] == ["succeeded"] * 4


def test_plain_work_over_the_api_says_the_server_runs_the_queue(served: Served) -> None:
    proc = remote(served, "work", token="automation")
    assert proc.returncode == 3
    (line,) = json_lines(proc.stdout.decode())
    assert "runs the queue with its own workers" in line["error"]
    assert "--until-idle" in line["error"]


def test_without_promptboard_url_a_held_database_exits_3_saying_what_to_set(
        served: Served) -> None:
    proc = cli(served.data, "report", *PERIOD)
    assert proc.returncode == 3
    (line,) = json_lines(proc.stdout.decode())
    assert "Another Promptboard process" in line["error"]
    assert "set PROMPTBOARD_URL" in line["error"] and "PROMPTBOARD_TOKEN" in line["error"]
    proc = remote(served, "demo-data", "--images", "10")  # nothing of it goes over the API
    assert proc.returncode == 3
    (line,) = json_lines(proc.stdout.decode())
    assert "stop the dashboard" in line["error"] and "PROMPTBOARD_URL" not in line["error"]


def test_a_bad_or_missing_token_is_named_and_exits_4(served: Served) -> None:
    wrong = "pb_" + "A" * 43
    proc = remote(served, "report", *PERIOD, token=wrong)
    assert proc.returncode == 4
    said = proc.stderr.decode()
    assert "refused the token (401): check PROMPTBOARD_TOKEN" in said
    assert "Account page" in said and wrong not in said + proc.stdout.decode()
    proc = remote(served, "report", *PERIOD, token="")
    assert proc.returncode == 4 and b"PROMPTBOARD_TOKEN is not set" in proc.stderr


def test_a_role_that_may_not_is_told_why(served: Served, tmp_path: Path) -> None:
    proc = remote(served, "generate", "--prompt", "a fox", token="ann", cwd=tmp_path)
    assert proc.returncode == 4
    (line,) = json_lines(proc.stdout.decode())
    assert line["error"] == "Not allowed (403): Your role (analyst) may not do this."


def test_backup_while_the_server_runs_goes_through_it_and_is_checked(served: Served) -> None:
    proc = remote(served, "backup", token="ada")
    assert proc.returncode == 0, proc.stderr
    made = json.loads(proc.stdout)
    path = Path(made["path"])
    assert made["status"] == "ok" and path.parent == served.data / "backups"
    assert path.stat().st_size == made["bytes"] and made["rows"] > 0
    copy = Database(path, migrate=False)
    try:
        assert copy.scalar("SELECT count(*) FROM jobs") > 0
        assert sum(transfer.counts(copy).values()) == made["rows"]
    finally:
        copy.close()
    refused = remote(served, "backup", token="mia")
    assert refused.returncode == 4
    (line,) = json_lines(refused.stdout.decode())
    assert line["error"] == "Not allowed (403): Your role (member) may not do this."


def test_a_server_that_is_down_is_named(tmp_path: Path) -> None:
    data = tmp_path / "elsewhere"
    data.mkdir()
    url = closed_port_url()
    for args in (("report", "--remote", *PERIOD), ("report", *PERIOD)):
        # the second: no database on this machine, so not the server's: the API, not a new one
        proc = cli(data, *args, PROMPTBOARD_URL=url, PROMPTBOARD_TOKEN="pb_x")
        assert proc.returncode == 4
        (line,) = json_lines(proc.stdout.decode())
        assert line["error"].startswith(f"Could not reach the Promptboard server at {url} "
                                        "(connection refused)")
        assert "PROMPTBOARD_URL" in line["error"]
    assert not (data / "promptboard.duckdb").exists()


def test_remote_needs_its_address(tmp_path: Path) -> None:
    proc = run_cli("work", "--until-idle", "--remote")
    assert proc.returncode == 4 and "PROMPTBOARD_URL is not set" in proc.stderr
