"""``python -m lib.cli generate`` end to end, in a real subprocess."""

from __future__ import annotations

import io
import os
from pathlib import Path

from PIL import Image

from lib.core import config
from lib.db.database import Database
from tests.helpers import json_lines, run_cli


def test_generate_prints_one_json_object_per_stored_image() -> None:
    proc = run_cli("generate", "--provider", "sandbox", "--prompt", "a red fox in snow",
                   "--n", "2", "--size", "256x192", "--seed", "42", "--user", "ann")
    assert proc.returncode == 0, proc.stderr
    lines = json_lines(proc.stdout)
    assert len(lines) == 2
    images_dir = config.load().images_dir
    for i, line in enumerate(lines):
        assert line["status"] == "succeeded" and line["error"] is None
        assert (line["width"], line["height"]) == (256, 192)
        assert line["seed"] == 42 + i and line["cost_usd"] == 0.0
        assert line["duration_ms"] >= 0 and line["provider"] == "sandbox"
        stored = images_dir / line["storage_key"]
        assert Image.open(io.BytesIO(stored.read_bytes())).size == (256, 192)
    assert lines[0]["job_id"] == lines[1]["job_id"]


def test_a_failed_job_prints_its_error_and_exits_non_zero() -> None:
    proc = run_cli("generate", "--prompt", "[[fail:safety]] a fox")
    assert proc.returncode == 1
    (line,) = json_lines(proc.stdout)
    assert line["status"] == "failed" and line["error_type"] == "safety"
    assert "safety" in line["error"].lower()


def test_a_refused_request_says_why() -> None:
    proc = run_cli("generate", "--prompt", "   ")
    assert proc.returncode == 1
    (line,) = json_lines(proc.stdout)
    assert line["status"] == "refused" and "empty" in line["error"]


def test_it_says_clearly_when_the_dashboard_holds_the_database() -> None:
    held = Database(config.load().db_path)
    try:
        proc = run_cli("generate", "--prompt", "a fox")
    finally:
        held.close()
    assert proc.returncode == 3
    (line,) = json_lines(proc.stdout)
    assert "Another Promptboard process" in line["error"]
    assert "stop the dashboard" in line["error"]


def test_data_dir_comes_from_the_environment(tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    proc = run_cli("generate", "--prompt", "a fox", "--size", "64x64",
                   env={"PROMPTBOARD_DATA_DIR": str(other)})
    assert proc.returncode == 0, proc.stderr
    assert (other / "promptboard.duckdb").exists()
    assert os.listdir(other / "images")


def test_demo_data_is_added_and_removed_from_the_shell() -> None:
    proc = run_cli("demo-data", "--images", "300", "--days", "5", "--users", "3")
    assert proc.returncode == 0, proc.stderr
    (summary,) = json_lines(proc.stdout)
    assert summary["images"] == 300
    db = Database(config.load().db_path)
    try:
        assert db.scalar("SELECT count(*) FROM images WHERE demo") == 300
    finally:
        db.close()
    proc = run_cli("demo-data", "--remove")
    assert proc.returncode == 0 and json_lines(proc.stdout) == [{"removed_images": 300}]
