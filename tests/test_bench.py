"""Every benchmark still imports: bench/ runs outside the suite, so a moved name breaks it
silently (the storage split once left bench.pipeline importing LocalStorage from its old home).
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

BENCH = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "bench").glob("*.py")
               if p.stem != "__init__")


def test_there_are_benchmarks_to_check() -> None:
    assert {"pipeline", "pages", "analytics", "load"} <= set(BENCH)


@pytest.mark.parametrize("name", BENCH)
def test_a_benchmark_imports_and_has_a_main(name: str) -> None:
    module = importlib.import_module(f"bench.{name}")
    assert callable(getattr(module, "main", None))
