"""The reliability suite: long variants behind PROMPTBOARD_SOAK=1, figures in the summary.

Tests marked ``soak`` are skipped unless ``PROMPTBOARD_SOAK=1``; each has a short variant
that always runs. Whatever the tests put in :mod:`tests.reliability.report` is written to
``artifacts/reliability/*.json`` and printed at the end of the run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakes.openai import FakeOpenAI
from tests.fakes.replicate import FakeReplicate
from tests.reliability import report
from tests.reliability._crash_helpers import Fakes, slow


def soak_enabled() -> bool:
    """True when the long variants should run."""
    return os.environ.get("PROMPTBOARD_SOAK") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if soak_enabled():
        return
    skip = pytest.mark.skip(reason="long variant: set PROMPTBOARD_SOAK=1 to run it")
    for item in items:
        if item.get_closest_marker("soak") is not None:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    names = report.sections()
    if not names:
        return
    paths = report.write()
    terminalreporter.section("reliability figures")
    for name in names:
        for line in report.render(name):
            terminalreporter.write_line(line)
    terminalreporter.write_line(f"(JSON: {', '.join(str(p) for p in paths)})")


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> Iterator[Fakes]:
    found = Fakes(FakeOpenAI(), FakeReplicate())
    slow(found.openai.server, 0.5)
    for name, value in found.env().items():
        monkeypatch.setenv(name, value)  # submit checks the keys; subprocesses inherit them
    yield found
    found.openai.close()
    found.replicate.close()
