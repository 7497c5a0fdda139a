"""One root for the errors a person reads, and the tree in lib/core/errors.py drawn to match."""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest

import lib
from lib.core import errors
from lib.core.errors import PromptboardError

# Raised for a bug or a lost race, never worded for a person (see lib/core/errors.py).
INTERNAL = {"lib.jobs.model.IllegalTransition", "lib.providers.catalog_seed.SeedError"}


def _lib_exceptions() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(lib.__path__, "lib."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if (isinstance(value, type) and issubclass(value, BaseException)
                    and value.__module__ == info.name and not value.__name__.startswith("_")):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return found


def test_every_error_lib_raises_for_a_person_has_the_one_root() -> None:
    found = _lib_exceptions()
    assert len(found) > 20  # the walk found them
    outside = {name for name, cls in found.items() if not issubclass(cls, PromptboardError)}
    assert outside == INTERNAL


def test_the_tree_in_the_docstring_names_every_error_and_its_parent() -> None:
    drawn: dict[str, str] = {}  # class name -> parent class name, from the box drawing
    doc = (errors.__doc__ or "").split("::\n\n", 1)[1].split("\n\n", 1)[0]
    stack: list[tuple[int, str]] = []
    for line in doc.splitlines():
        m = re.match(r"^([\s│]*(?:[├└]── )?)([A-Z]\w+)\b", line)
        if not m:  # a continuation of the text beside the tree
            continue
        depth, name = len(m.group(1)), m.group(2)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            drawn[name] = stack[-1][1]
        stack.append((depth, name))
    code = {cls.__name__: next(b.__name__ for b in cls.__mro__[1:]
                               if issubclass(b, PromptboardError))
            for cls in _lib_exceptions().values()
            if issubclass(cls, PromptboardError) and cls is not PromptboardError}
    assert drawn == code


@pytest.mark.parametrize("old_base", [ValueError, PermissionError, KeyError, RuntimeError])
def test_the_old_built_in_bases_still_match(old_base: type[Exception]) -> None:
    """Callers that catch ValueError (say) still catch the errors that were ValueErrors."""
    kinds = [c for c in _lib_exceptions().values() if issubclass(c, old_base)]
    assert kinds and all(issubclass(c, PromptboardError) or
                         f"{c.__module__}.{c.__qualname__}" in INTERNAL for c in kinds)
