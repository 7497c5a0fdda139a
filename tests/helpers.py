"""Helpers shared by tests that run Promptboard in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lib.engine import Engine

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``python -m lib.cli ...`` from the repo root with this test's environment."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "lib.cli", *args], cwd=ROOT, env=full_env,
        capture_output=True, text=True, timeout=timeout,
    )


def json_lines(text: str) -> list[dict[str, Any]]:
    """Parse one JSON object per non-empty line."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def run_next(engine: Engine) -> str | None:
    """Claim the next job and run it in this thread; its end state, or None if none queued."""
    from lib.pipeline import process
    from lib.worker import claim

    job = claim(engine, "test")
    return None if job is None else process(engine, job)


class MemoryContext:
    """A job context for provider tests: records progress, keeps state, can be cancelled."""

    def __init__(self, attempt: int = 1) -> None:
        self.attempt = attempt
        self.state: dict[str, Any] = {}
        self.progress: list[tuple[float, str | None]] = []
        self.cancelled = False

    def save_state(self, state: dict[str, Any]) -> None:
        self.state = dict(state)

    def report_progress(self, fraction: float, note: str | None = None) -> None:
        self.progress.append((fraction, note))

    def cancel_requested(self) -> bool:
        return self.cancelled
