"""The shape of the suite itself: no test module imports another; the one wait_until.

Shared data builders live in ``tests/builders.py``, fixtures in ``conftest.py`` and drivers in
``tests/helpers.py``; a test module that imports another runs that module's fixtures and
tests' imports too, and ties two files that should move apart (review, section 6).
Read from the source with ``ast`` (nothing is imported).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def imported_test_modules(source: str, module: str) -> list[str]:
    """The test modules (``test_*``) that the source of ``module`` imports, at any depth."""
    package = module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found += [n for n in names if n.rsplit(".", 1)[-1].startswith("test_")]
    return found


@pytest.mark.parametrize("source", [
    "from tests.test_analytics import add_job",
    "from .test_http import closed_port_url",
    "from tests import test_gallery",
    "import tests.reliability.test_auth_attacks",
    "def f():\n    from tests.test_auth import PASSWORD\n",
])
def test_the_check_sees_every_form_of_importing_a_test_module(source: str) -> None:
    assert imported_test_modules(source, "tests.test_x")


def test_the_check_lets_helpers_builders_and_fakes_through() -> None:
    source = ("from tests.builders import add_job\nfrom tests.helpers import wait_until\n"
              "from tests.fakes.gemini import FakeGemini\nfrom . import invariants\n"
              "import pytest\n")
    assert imported_test_modules(source, "tests.reliability.test_x") == []


def test_no_test_module_imports_another() -> None:
    offenders = {}
    for path in sorted(TESTS.rglob("test_*.py")):
        module = _module_name(path)
        if found := imported_test_modules(path.read_text(), module):
            offenders[module] = found
    assert not offenders, (
        "move what is shared to tests/builders.py (data), tests/conftest.py (fixtures) or "
        f"tests/helpers.py (drivers): {offenders}")


def test_wait_until_returns_the_first_true_answer() -> None:
    answers = iter([None, 0, "", "ready", "later"])
    assert wait_until(lambda: next(answers), timeout=5, interval=0) == "ready"


def test_wait_until_names_what_it_waited_for_when_it_gives_up() -> None:
    def the_queue_is_empty() -> bool:
        """the queue to empty"""
        return False

    with pytest.raises(AssertionError, match="for: the queue to empty"):
        wait_until(the_queue_is_empty, timeout=0.05, interval=0.01)
    with pytest.raises(AssertionError, match="for: job j1 to finish, still running"):
        wait_until(lambda: False, timeout=0, what=lambda: "job j1 to finish, still running")
